/**
 * An HTTP proxy in front of a test registry that misbehaves on demand: drops connections
 * mid-body, flips a byte, answers a status of its choice, or redirects to another origin.
 * The Host header is passed through, so the registry's Location headers point back at the
 * proxy and every later request of an upload goes through it too.
 */
import { createServer, request } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform } from 'node:stream';

export type Fault =
  /** Send the response headers and `afterBytes` bytes of body, then cut the connection. */
  | { readonly kind: 'drop-response'; readonly afterBytes: number }
  /** Send the response headers and `afterBytes` bytes of body, then nothing, holding the connection open. */
  | { readonly kind: 'stall-response'; readonly afterBytes: number }
  /** Forward `afterBytes` bytes of the request body, then cut both connections. */
  | { readonly kind: 'drop-request'; readonly afterBytes: number }
  /** Invert the response body's byte at `atByte`. */
  | { readonly kind: 'flip-response'; readonly atByte: number }
  | { readonly kind: 'status'; readonly status: number; readonly headers?: OutgoingHttpHeaders }
  /** Answer 307 to the same path on `origin`. */
  | { readonly kind: 'redirect'; readonly origin: string }
  /** Forward the request only once `until` settles, and not at all if the client gave up meanwhile. */
  | { readonly kind: 'hold'; readonly until: Promise<void> };

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly userAgent: string | undefined;
  readonly contentLength: string | undefined;
  readonly contentRange: string | undefined;
  readonly fault: Fault['kind'] | undefined;
}

export interface FaultyProxyOptions {
  /** The registry's base URL (http only). */
  readonly target: string;
  /** Decides per request; undefined forwards faithfully. */
  readonly fault?: (req: IncomingMessage, seen: readonly SeenRequest[]) => Fault | undefined;
  /** Replace the client's Authorization with this before forwarding (a blob store's own access). */
  readonly upstreamAuthorization?: string;
  /** Called once a dropped response has been cut, or a flipped one sent whole. */
  readonly onFaultDone?: (fault: Fault) => void;
}

export interface FaultyProxy {
  readonly host: string;
  readonly url: string;
  readonly seen: readonly SeenRequest[];
  close(): Promise<void>;
}

function countingCut(afterBytes: number, cut: () => void): Transform {
  let passed = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const room = afterBytes - passed;
      passed += chunk.length;
      if (room > chunk.length) {
        callback(null, chunk);
        return;
      }
      this.push(chunk.subarray(0, Math.max(room, 0)));
      // Let the partial chunk reach the socket before cutting it.
      setImmediate(cut);
      callback();
    },
  });
}

function flipper(atByte: number): Transform {
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const at = atByte - offset;
      offset += chunk.length;
      if (at < 0 || at >= chunk.length) {
        callback(null, chunk);
        return;
      }
      const copy = Buffer.from(chunk);
      copy[at] = (copy[at] ?? 0) ^ 0xff;
      callback(null, copy);
    },
  });
}

export async function startFaultyProxy(options: FaultyProxyOptions): Promise<FaultyProxy> {
  const target = new URL(options.target);
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const fault = options.fault?.(req, seen);
    seen.push({
      method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization, userAgent: req.headers['user-agent'],
      contentLength: req.headers['content-length'], contentRange: req.headers['content-range'], fault: fault?.kind,
    });
    if (fault?.kind === 'status') {
      req.resume();
      res.writeHead(fault.status, { 'content-length': '0', ...fault.headers }).end();
      return;
    }
    if (fault?.kind === 'redirect') {
      req.resume();
      res.writeHead(307, { location: new URL(req.url ?? '/', fault.origin).href, 'content-length': '0' }).end();
      return;
    }
    if (fault?.kind === 'hold') {
      void fault.until.then(() => {
        if (req.destroyed) return;
        forward(req, res, undefined);
      });
      return;
    }
    forward(req, res, fault);
  });

  function forward(req: IncomingMessage, res: ServerResponse, fault: Fault | undefined): void {
    const headers = { ...req.headers };
    if (options.upstreamAuthorization !== undefined) headers.authorization = options.upstreamAuthorization;
    const upstream = request(new URL(req.url ?? '/', target), { method: req.method, headers });
    const cutAll = (): void => {
      req.socket.destroy();
      upstream.destroy();
    };
    upstream.on('error', () => res.socket?.destroy());
    upstream.on('response', (answer: IncomingMessage) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      if (fault?.kind === 'drop-response') {
        // Never ended, and the socket held from the start: once a short body has passed
        // whole, the response would be finished and its socket detached, kept alive.
        const socket = req.socket;
        answer.pipe(countingCut(fault.afterBytes, () => {
          socket.destroy();
          options.onFaultDone?.(fault);
        })).pipe(res, { end: false });
      } else if (fault?.kind === 'stall-response') {
        answer.pipe(countingCut(fault.afterBytes, () => answer.unpipe())).pipe(res, { end: false });
      } else if (fault?.kind === 'flip-response') {
        res.once('finish', () => options.onFaultDone?.(fault));
        answer.pipe(flipper(fault.atByte)).pipe(res);
      } else {
        answer.pipe(res);
      }
    });
    if (fault?.kind === 'drop-request') {
      req.pipe(countingCut(fault.afterBytes, cutAll)).pipe(upstream);
    } else {
      req.pipe(upstream);
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
