/**
 * A small Kubernetes REST client. `@kubernetes/client-node` supplies what is hard to get
 * right (kubeconfig and in-cluster loading, token rotation, client certificates, CA); the
 * requests themselves go through node:https so every call has a timeout, an AbortSignal and
 * an error that says the status and the object, never the body or headers.
 *
 * client-node takes about half a second to import, and the function scales to zero, so it is
 * imported on first use, never on the start-up path or the path that filters events.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import { BuildWatcherError, kindOfHttpStatus, kindOfTransportError, refused, transient } from '../errors.js';
import { TailWindow } from './tail-window.js';

export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PATCH';
  /** Absolute API path, e.g. `/apis/build.openshift.io/v1/namespaces/ns/builds/b`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
  readonly signal?: AbortSignal;
  /** Keep only the last this many bytes of the answer (logs), instead of refusing a big one. */
  readonly keepTailBytes?: number;
}

export interface KubeResponse {
  readonly status: number;
  readonly text: string;
}

/** What the rest of the function needs from the API server; tests may supply their own. */
export interface KubeApi {
  request(request: KubeRequest): Promise<KubeResponse>;
}

/** An API answer that is not 2xx. `status` lets callers treat 404/403/409 specifically. */
export class KubeApiError extends BuildWatcherError {
  readonly httpStatus: number;
  constructor(httpStatus: number, what: string, reason: string) {
    const message = `Kubernetes API ${httpStatus} for ${what}${reason === '' ? '' : `: ${reason}`}`;
    super(kindOfHttpStatus(httpStatus), message);
    this.name = 'KubeApiError';
    this.httpStatus = httpStatus;
  }
}

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** The Status `reason` only (e.g. Forbidden, NotFound, Conflict): never the message text. */
export function statusReason(text: string): string {
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

export interface LoadedKubeConfig {
  readonly config: KubeConfig;
  readonly server: URL;
}

/** client-node's loading: the given file, else KUBECONFIG, ~/.kube/config or in-cluster. */
export async function loadKubeConfig(kubeconfigPath?: string): Promise<LoadedKubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  try {
    if (kubeconfigPath !== undefined && kubeconfigPath !== '') config.loadFromFile(kubeconfigPath);
    else config.loadFromDefault();
  } catch (error) {
    // Only the error code or name: a kubeconfig parse error may quote the file, tokens included.
    const why = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.name : 'unknown error');
    // Our configuration, not the sender's mistake: never a 4xx.
    throw refused(`cannot load the Kubernetes configuration${kubeconfigPath ? ` ${kubeconfigPath}` : ''} (${why})`);
  }
  const cluster = config.getCurrentCluster();
  if (cluster === null) throw refused('no Kubernetes cluster configured (no kubeconfig and not in a cluster)');
  return { config, server: new URL(cluster.server) };
}

export async function connectKubeApi(options: KubeApiOptions = {}): Promise<KubeApi> {
  const { config, server } = await loadKubeConfig(options.kubeconfigPath);
  const timeoutMs = options.timeoutMs ?? 30_000;

  return {
    async request(request: KubeRequest): Promise<KubeResponse> {
      const url = new URL(request.path, server);
      for (const [key, value] of Object.entries(request.query ?? {})) url.searchParams.set(key, value);
      const requestOptions: https.RequestOptions = {
        method: request.method,
        headers: { Accept: request.accept ?? 'application/json' },
      };
      await config.applyToHTTPSOptions(requestOptions);
      if (options.verifyTls === false) requestOptions.rejectUnauthorized = false;
      const body = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
      if (body !== undefined) {
        requestOptions.headers = {
          ...requestOptions.headers,
          'Content-Type': request.contentType ?? 'application/json',
          'Content-Length': String(body.length),
        };
      }
      const what = `${request.method} ${request.path}`;
      return send(url, requestOptions, body, what, timeoutMs, request.signal, request.keepTailBytes);
    },
  };
}

function send(
  url: URL,
  options: https.RequestOptions,
  body: Buffer | undefined,
  what: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  keepTailBytes: number | undefined,
): Promise<KubeResponse> {
  const transport = url.protocol === 'http:' ? http : https;
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout]);
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { ...options, signal: combined }, (res) => {
      const tail = keepTailBytes === undefined ? undefined : new TailWindow(keepTailBytes);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (tail !== undefined) return tail.push(chunk);
        size += chunk.length;
        chunks.push(chunk);
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy();
          reject(transient(`Kubernetes API answer to ${what} exceeded ${MAX_RESPONSE_BYTES} bytes`));
        }
      });
      res.on('error', () => reject(transient(`Kubernetes API connection lost during ${what}`)));
      res.on('end', () => {
        const text = tail !== undefined ? tail.text() : Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve({ status, text });
        else reject(new KubeApiError(status, what, statusReason(text)));
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (timeout.aborted) reject(transient(`Kubernetes API timed out after ${timeoutMs} ms on ${what}`));
      else if (signal?.aborted === true) reject(transient(`${what} was cancelled`));
      else {
        const kind = kindOfTransportError(error.code);
        const problem = kind === 'refused' ? 'TLS verification failed' : 'unreachable';
        reject(new BuildWatcherError(kind, `Kubernetes API ${problem} (${error.code ?? 'error'}) on ${what}`));
      }
    });
    req.end(body);
  });
}

export function isKubeStatus(error: unknown, status: number): boolean {
  return error instanceof KubeApiError && error.httpStatus === status;
}
