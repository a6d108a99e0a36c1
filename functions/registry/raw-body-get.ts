/**
 * A GET whose body is read straight off its own socket into a few reused buffers. node:http (and
 * a plain socket) copy every chunk into a new Buffer, garbage V8 frees late (see blob-body.ts):
 * on loopback, 512 MiB took 0.82-0.99 s of CPU through node:http and 0.31-0.36 s here. Blobs are
 * most of a copy's bytes, so their GETs come here. Only a 200 with a Content-Length and no
 * transfer coding is handled; anything else (a redirect, a 401) is `other`, and the caller asks
 * again through node:http.
 */
import type { OnReadOpts, Socket } from 'node:net';
import type { BlobBody, BlobChunkHandler } from './blob-body.js';

export type RawGetAnswer =
  | { readonly kind: 'body'; readonly contentLength: number; readonly body: BlobBody }
  | { readonly kind: 'other'; readonly status: number };

export interface RawGet {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** A new connection to the URL's origin (TLS settled by the caller), reading as `onread` says. */
  readonly connect: (onread: OnReadOpts) => Socket;
  readonly idleTimeoutMs: number;
  readonly signal: AbortSignal;
}

const HEADER_LIMIT = 64 * 1024;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * Each read fills one buffer; a few are in flight (read into, hashed, written) and the socket
 * pauses when all are lent out. On a 1 GiB one-layer copy: 64 KiB reads took 2.3-2.4 s of CPU,
 * 256 KiB 2.0-2.1 s at 66 MiB peak RSS, 1 MiB 2.0-2.2 s at 60 MiB (fewer calls: V8 does not reach
 * for its optimizing compiler, whose code and memory were the difference).
 */
const READ_BYTES = 1024 * 1024;
const BUFFERS = 4;

function requestHead(url: URL, headers: Readonly<Record<string, string>>): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, 'connection: close'];
  for (const [name, value] of Object.entries(headers)) {
    // Values come from the session (tokens, paths): refuse anything that could split the request.
    if (!TOKEN.test(name) || /[\r\n]/.test(value)) throw new TypeError('invalid header');
    lines.push(`${name}: ${value}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function parseHead(head: string): { status: number; headers: Map<string, string> } | undefined {
  const [statusLine, ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (match === null) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    // Two lengths, or a length with a transfer coding: leave it to node:http.
    if (headers.has(name)) return undefined;
    headers.set(name, line.slice(colon + 1).trim());
  }
  return { status: Number(match[1]), headers };
}

const connectionLost = (): Error => Object.assign(new Error('connection closed before the end of the body'), { code: 'ECONNRESET' });

/** Resolves once the answer's head is in; a body, when there is one, flows once started. */
export function rawGet(request: RawGet): Promise<RawGetAnswer> {
  const { url, headers, idleTimeoutMs, signal } = request;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const free: Buffer[] = [];
    let allocated = 0;
    // What a read may go into next: the socket always holds one buffer that is not lent out.
    const canRead = (): boolean => free.length > 0 || allocated < BUFFERS;
    const nextBuffer = (): Buffer => {
      const reused = free.pop();
      if (reused !== undefined) return reused;
      allocated += 1;
      return Buffer.allocUnsafeSlow(READ_BYTES);
    };

    let head: Buffer | undefined = Buffer.alloc(0);
    let contentLength = 0;
    let received = 0;
    let handler: BlobChunkHandler | undefined;
    /** Arrived before the body was started: the end of the head's read, or how the body ended. */
    let early: { chunk?: Buffer; error?: Error; ended?: boolean } = {};
    let consumerPaused = true;
    let poolPaused = false;
    let finished = false;

    const settle = (outcome: { error: Error } | { ended: true }): void => {
      if (finished) return;
      finished = true;
      if (handler === undefined) {
        early = { ...early, ...outcome };
        return;
      }
      if ('error' in outcome) handler.error(outcome.error);
      else handler.end();
    };

    const onHead = (bytes: Buffer): boolean => {
      // Copied, so the read buffer stays free: a head is small, and this happens once.
      const soFar: Buffer = Buffer.concat([head ?? Buffer.alloc(0), bytes]);
      const end = soFar.indexOf('\r\n\r\n');
      if (end < 0) {
        head = soFar;
        if (soFar.length > HEADER_LIMIT) socket.destroy(new Error('answer head too large'));
        return true;
      }
      head = undefined;
      const parsed = parseHead(soFar.subarray(0, end).toString('latin1'));
      const length = parsed?.headers.get('content-length');
      if (parsed === undefined || parsed.status !== 200 || length === undefined || !/^\d+$/.test(length)
        || parsed.headers.has('transfer-encoding')) {
        finished = true;
        socket.destroy();
        resolve({ kind: 'other', status: parsed?.status ?? 0 });
        return false;
      }
      contentLength = Number(length);
      const rest = soFar.subarray(end + 4, end + 4 + contentLength);
      received = rest.length;
      if (rest.length > 0) early.chunk = rest;
      resolve({ kind: 'body', contentLength, body });
      if (received === contentLength) {
        settle({ ended: true });
        socket.destroy();
      }
      // Nothing more is read until the body is started.
      return false;
    };

    const onBody = (bytes: Buffer, buffer: Buffer): boolean => {
      const used = Math.min(bytes.length, contentLength - received);
      received += used;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        free.push(buffer);
        if (poolPaused && !consumerPaused && !finished) {
          poolPaused = false;
          socket.resume();
        }
      };
      // A server that sends more than it announced: the rest is not the blob's.
      if (used > 0) handler?.chunk(bytes.subarray(0, used), release);
      else release();
      if (received === contentLength) {
        settle({ ended: true });
        socket.destroy();
        return false;
      }
      if (!canRead()) {
        poolPaused = true;
        return false;
      }
      return !consumerPaused;
    };

    const onread: OnReadOpts = {
      buffer: nextBuffer,
      callback: (bytesRead, into) => {
        const buffer = into as Buffer;
        const bytes = buffer.subarray(0, bytesRead);
        if (finished) return false;
        if (head === undefined) return onBody(bytes, buffer);
        const more = onHead(bytes);
        // The head's bytes were copied: the same buffer takes the next read.
        free.push(buffer);
        return more;
      },
    };

    const body: BlobBody = {
      start(events) {
        handler = events;
        consumerPaused = false;
        const { chunk, error, ended } = early;
        early = {};
        // The consumer may pause while taking the first chunk.
        if (chunk !== undefined) events.chunk(chunk, () => undefined);
        if (error !== undefined) events.error(error);
        else if (ended === true) events.end();
        else if (!consumerPaused && !finished) socket.resume();
      },
      pause() {
        consumerPaused = true;
        if (!finished) socket.pause();
      },
      resume() {
        consumerPaused = false;
        if (finished || poolPaused || handler === undefined) return;
        socket.resume();
      },
      destroy() {
        finished = true;
        handler = undefined;
        socket.destroy();
      },
    };

    const socket = request.connect(onread);
    const onAbort = (): void => { socket.destroy(signal.reason as Error); };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.setTimeout(idleTimeoutMs, () => {
      socket.destroy(Object.assign(new Error('no progress on the connection'), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', (error) => {
      if (head !== undefined) reject(error);
      else settle({ error });
    });
    // With `onread` the data bypasses the stream, but its end is still reported through it:
    // flowing, so that an early end of the answer is seen at once rather than at the timeout.
    socket.resume();
    socket.once('end', () => {
      if (head !== undefined) reject(connectionLost());
      else settle({ error: connectionLost() });
    });
    socket.once('close', () => {
      signal.removeEventListener('abort', onAbort);
      if (head !== undefined) reject(connectionLost());
      else settle({ error: connectionLost() });
    });
    socket.write(requestHead(url, headers));
  });
}
