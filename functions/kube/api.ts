/**
 * A small Kubernetes REST client. `cluster-access.ts` says where the server is and how to
 * authenticate; requests go through node:https so each has a timeout, an AbortSignal and an error
 * naming the status and the object, never the body or headers. Buffered answers (`request`) and
 * watch streams (`stream`, for the command line) share connection settings and classification.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestOptions } from 'node:https';
import { http, https } from '../builtins.js';
import { BuildWatcherError, kindOfHttpStatus, kindOfTransportError, transient } from '../errors.js';
import { inClusterAccess, kubeconfigAccess, type ClusterAccess } from './cluster-access.js';
import { TailWindow } from './tail-window.js';

export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PATCH';
  /** Absolute API path, from functions/kube/object.ts `apiPath`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
  readonly signal?: AbortSignal;
  /**
   * Read only the first this many bytes of the answer (a log), instead of refusing a big one: the connection is closed there, so
   * a server that sends more than it was asked for costs no more time or memory.
   */
  readonly readAtMost?: number;
}

export interface KubeResponse {
  readonly status: number;
  readonly text: string;
  /** With `readAtMost`: the answer's bytes read, all of them when fewer than the bound. */
  readonly bytesRead?: number;
}

/** What the rest of the function needs from the API server; tests may supply their own. */
export interface KubeApi {
  request(request: KubeRequest): Promise<KubeResponse>;
}

/** The command line's view: watches too, and what the kubeconfig says about its user. */
export interface KubeConnection extends KubeApi {
  /** GETs `path`: the 200 body's lines, which fail when the connection breaks or is silent for `idleTimeoutMs`. */
  stream(path: string, query: Readonly<Record<string, string>>, options: { signal: AbortSignal; idleTimeoutMs: number }): Promise<AsyncIterable<string>>;
  /** The namespace of the kubeconfig's current context, if it names one. */
  readonly contextNamespace: string | undefined;
  /** The current user's bearer token (`oc login` gives one), for --pass-token. */
  readonly userToken: string | undefined;
}

/** An API answer that is not 2xx. `httpStatus` lets callers treat 404/403/409/410 specifically. */
export class KubeApiError extends BuildWatcherError {
  readonly httpStatus: number;
  constructor(httpStatus: number, what: string, reason: string) {
    super(kindOfHttpStatus(httpStatus), `Kubernetes API ${httpStatus} for ${what}${reason === '' ? '' : `: ${reason}`}`);
    this.name = 'KubeApiError';
    this.httpStatus = httpStatus;
  }
}

export function isKubeStatus(error: unknown, status: number): boolean {
  return error instanceof KubeApiError && error.httpStatus === status;
}

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** A watch event carrying a whole object is rarely above a few hundred KiB. */
const MAX_LINE = 16 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

/** The Status `reason` only (e.g. Forbidden, NotFound, Conflict): never the message text. */
function statusReason(text: string): string {
  try {
    const parsed = JSON.parse(text) as { reason?: unknown };
    return typeof parsed.reason === 'string' ? parsed.reason.slice(0, 60) : '';
  } catch {
    return '';
  }
}

export interface KubeApiOptions {
  /** A kubeconfig file; when empty, KUBECONFIG, ~/.kube/config or the in-cluster account. */
  readonly kubeconfigPath?: string;
  readonly timeoutMs?: number;
  /** Verify the API server's certificate (KUBERNETES_VERIFY_TLS=0 turns it off for the CLI). */
  readonly verifyTls?: boolean;
}

interface Sending {
  readonly url: URL;
  readonly options: RequestOptions;
  readonly what: string;
  readonly body?: Buffer;
}

/** Sends one request; resolves with a 2xx response, rejects with a classified error. */
function open(sending: Sending, signal: AbortSignal, idleTimeoutMs?: number): Promise<IncomingMessage> {
  const { url, what } = sending;
  const transport = url.protocol === 'http:' ? http : https();
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { ...sending.options, signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return resolve(res);
      const tail = new TailWindow(MAX_ERROR_BODY);
      res.on('data', (chunk: Buffer) => tail.push(chunk));
      res.on('error', () => reject(new KubeApiError(status, what, '')));
      res.on('end', () => reject(new KubeApiError(status, what, statusReason(tail.text()))));
    });
    // A silent connection (a laptop that slept, a dead proxy) is noticed and replaced.
    if (idleTimeoutMs !== undefined) req.setTimeout(idleTimeoutMs, () => req.destroy(transient(`${what}: no data for ${Math.round(idleTimeoutMs / 1000)} s`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof BuildWatcherError) return reject(error);
      if (signal.aborted) return reject(transient(`${what} was cancelled or timed out`));
      const kind = kindOfTransportError(error.code);
      reject(new BuildWatcherError(kind, `Kubernetes API ${kind === 'refused' ? 'TLS verification failed' : 'unreachable'} (${error.code ?? 'error'}) on ${what}`));
    });
    req.end(sending.body);
  });
}

async function* linesOf(response: IncomingMessage): AsyncGenerator<string> {
  response.setEncoding('utf8');
  let rest = '';
  for await (const chunk of response as AsyncIterable<string>) {
    rest += chunk;
    for (let newline = rest.indexOf('\n'); newline >= 0; newline = rest.indexOf('\n')) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
    }
    if (rest.length > MAX_LINE) throw transient(`a watch event exceeded ${MAX_LINE} bytes`);
  }
  if (rest.trim() !== '') yield rest;
}

/**
 * The answer's text: past MAX_RESPONSE_BYTES a transient error, or with `readAtMost` its first that many bytes, the rest left
 * unread (the stream stops being pulled and the connection is closed), so a log costs its bound and nothing more.
 */
async function readAnswer(res: IncomingMessage, what: string, readAtMost: number | undefined): Promise<{ text: string; bytesRead: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      const room = (readAtMost ?? Infinity) - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (size === readAtMost) {
        res.destroy();
        break;
      }
      if (size > MAX_RESPONSE_BYTES) {
        res.destroy();
        throw transient(`Kubernetes API answer to ${what} exceeded ${MAX_RESPONSE_BYTES} bytes`);
      }
    }
  } catch (error) {
    if (error instanceof BuildWatcherError) throw error;
    throw transient(`Kubernetes API connection lost during ${what}`);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), bytesRead: size };
}

/**
 * The connection the function and the command line use: the given kubeconfig file, else
 * KUBECONFIG, ~/.kube/config or the pod's service account, in client-node's order.
 */
export async function connectKubeApi(options: KubeApiOptions = {}): Promise<KubeConnection> {
  const file = options.kubeconfigPath;
  // The one read of the environment outside config.ts: client-node's loadFromDefault reads
  // KUBECONFIG and HOME itself, and inClusterAccess must see what it sees, or they could disagree.
  const access = (file === undefined || file === '' ? await inClusterAccess(process.env) : undefined) ?? (await kubeconfigAccess(file, process.env));
  return kubeApiOver(access, options);
}

export function kubeApiOver(access: ClusterAccess, options: KubeApiOptions = {}): KubeConnection {
  const { server } = access;
  const timeoutMs = options.timeoutMs ?? 30_000;

  const prepare = async (method: string, path: string, query: Readonly<Record<string, string>>, accept: string, body?: Buffer, contentType?: string): Promise<Sending> => {
    const url = new URL(path, server);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    const requestOptions: RequestOptions = { method, headers: { Accept: accept } };
    await access.authorize(requestOptions);
    if (options.verifyTls === false) requestOptions.rejectUnauthorized = false;
    if (body !== undefined) {
      requestOptions.headers = { ...requestOptions.headers, 'Content-Type': contentType ?? 'application/json', 'Content-Length': String(body.length) };
    }
    return { url, options: requestOptions, what: `${method === 'GET' && query['watch'] === 'true' ? 'watch' : method} ${path}`, ...(body !== undefined ? { body } : {}) };
  };

  return {
    contextNamespace: access.contextNamespace,
    userToken: access.userToken,
    async request(request) {
      const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
      const sending = await prepare(request.method, request.path, request.query ?? {}, request.accept ?? 'application/json', body, request.contentType);
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = request.signal === undefined ? timeout : AbortSignal.any([request.signal, timeout]);
      try {
        const res = await open(sending, signal);
        const { text, bytesRead } = await readAnswer(res, sending.what, request.readAtMost);
        return { status: res.statusCode ?? 0, text, ...(request.readAtMost !== undefined ? { bytesRead } : {}) };
      } catch (error) {
        if (timeout.aborted && !(error instanceof KubeApiError)) throw transient(`Kubernetes API timed out after ${timeoutMs} ms on ${sending.what}`);
        throw error;
      }
    },
    async stream(path, query, { signal, idleTimeoutMs }) {
      return linesOf(await open(await prepare('GET', path, query, 'application/json'), signal, idleTimeoutMs));
    },
  };
}
