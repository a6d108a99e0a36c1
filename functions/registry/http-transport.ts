/**
 * One HTTP exchange over node:http/https with a keep-alive agent, an idle timeout and an
 * AbortSignal. Bodies stream: a blob's body is written by its pump (blob-pump.ts), never collected.
 */
import type { Agent as HttpAgent, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { OnReadOpts, Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { BodyWriter } from './blob-pump.js';
import { http, https as httpsModule, net, tls as tlsModule } from '../builtins.js';
import { readLocalFile } from '../local-file.js';

/** TLS settings for one side of a copy. */
export interface RegistryTlsOptions {
  /** Verify the registry's certificate (default true). */
  readonly verify?: boolean;
  /** A PEM bundle trusted in addition to the public roots (e.g. the cluster's service CA). */
  readonly caPath?: string;
  /** Allow plain HTTP when the registry does not speak TLS; loopback registries always may, others only with this set. */
  readonly allowPlainHttp?: boolean;
}

export interface Agents {
  readonly http: HttpAgent;
  /** Made on first use. */
  https(): HttpsAgent;
  /** A new connection outside the pools, with the same TLS settings, reading as `onread` says. */
  connect(url: URL, onread: OnReadOpts): Socket;
  destroy(): void;
}

export async function createAgents(options: RegistryTlsOptions, maxSockets: number): Promise<Agents> {
  // Read lazily: parsing the public roots costs some 9 MiB, paid only with an extra CA.
  const extraCa = options.caPath === undefined ? undefined : readLocalFile(options.caPath);
  const common = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
  const plain = new http.Agent(common);
  let secure: HttpsAgent | undefined;
  const tlsOptions = (): { rejectUnauthorized: boolean; ca?: string[] } => ({
    rejectUnauthorized: options.verify !== false,
    ...(extraCa === undefined ? {} : { ca: [...tlsModule().rootCertificates, extraCa] }),
  });
  const https = (): HttpsAgent => {
    secure ??= new (httpsModule().Agent)({ ...common, ...tlsOptions() });
    return secure;
  };
  const connect = (url: URL, onread: OnReadOpts): Socket => {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (url.protocol !== 'https:') return net.connect({ host, port: Number(url.port === '' ? 80 : url.port), onread });
    // tls.connect takes `onread` as net.connect does; its type does not list it.
    const secureOptions: ConnectionOptions & { onread: OnReadOpts } = {
      host, port: Number(url.port === '' ? 443 : url.port), ...tlsOptions(), ...(net.isIP(host) === 0 ? { servername: host } : {}), onread,
    };
    return tlsModule().connect(secureOptions);
  };
  return { http: plain, https, connect, destroy: () => { plain.destroy(); secure?.destroy(); } };
}

export interface Exchange {
  readonly method: string;
  readonly url: URL;
  readonly headers: OutgoingHttpHeaders;
  readonly body?: Buffer | BodyWriter;
  readonly agents: Agents;
  /** Longest silence on the socket, while sending or waiting, before the request fails. */
  readonly idleTimeoutMs: number;
  /**
   * For a small answer read whole: the longest the exchange may take, its body's end included. A registry that trickles a
   * byte now and then is never idle; this ends it.
   */
  readonly deadlineMs?: number;
  readonly signal: AbortSignal;
}

/** An exchange that outlived its `deadlineMs`. */
export class DeadlineError extends Error {
  readonly code = 'ETIMEDOUT';
  readonly deadlineMs: number;
  constructor(deadlineMs: number) {
    super(`no whole answer within ${Math.round(deadlineMs / 1000)} s`);
    this.deadlineMs = deadlineMs;
  }
}

class IdleTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor() {
    super('no progress on the connection');
  }
}

/** Resolves with the response once its headers arrive; the caller consumes or destroys it. */
export function send(exchange: Exchange): Promise<IncomingMessage> {
  const { method, url, headers, body, agents, idleTimeoutMs, deadlineMs, signal } = exchange;
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const req = isHttps
      ? httpsModule().request(url, { method, headers, signal, agent: agents.https() })
      : http.request(url, { method, headers, signal, agent: agents.http });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new IdleTimeoutError()));
    if (deadlineMs !== undefined) {
      let answer: IncomingMessage | undefined;
      const timer = setTimeout(() => {
        const error = new DeadlineError(deadlineMs);
        if (answer === undefined) req.destroy(error);
        else answer.destroy(error);
      }, deadlineMs);
      req.once('close', () => { if (answer === undefined) clearTimeout(timer); });
      req.once('response', (res: IncomingMessage) => {
        answer = res;
        res.once('close', () => clearTimeout(timer));
      });
    }
    req.once('response', resolve);
    // A failing body writer destroys the request with its reason, which ends up here.
    req.once('error', reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else body(req);
  });
}

/** Reads a small body whole, refusing more than `limit` bytes. */
export async function readLimited(res: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      res.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Lets an unneeded response go: it must be read to its end (even an empty or HEAD one) before its socket returns to the pool. */

export function discard(res: IncomingMessage): void {
  res.resume();
}

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}
