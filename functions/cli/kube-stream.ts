/**
 * Streaming GETs (watches) against the API server named by the current kubeconfig. The
 * pipeline's own client (functions/kube/api.ts) buffers whole answers under a timeout; a watch
 * is an answer that never ends, so the command line opens it here, with the same kubeconfig
 * handling (client-node's loading, token, client certificates, CA) and an idle timeout instead.
 */
import http from 'node:http';
import https from 'node:https';
import { refused, transient } from '../errors.js';
import { KubeApiError, loadKubeConfig, statusReason } from '../kube/api.js';

export interface KubeStreaming {
  /**
   * GETs `path` and resolves once the server answered 200, with the body's lines. A non-2xx
   * answer rejects with a KubeApiError. The lines end when the server closes the stream, and
   * fail when the connection breaks or stays silent for `idleTimeoutMs`.
   */
  open(path: string, query: Readonly<Record<string, string>>, options: { signal: AbortSignal; idleTimeoutMs: number }): Promise<AsyncIterable<string>>;
  /** The namespace of the kubeconfig's current context, if it names one. */
  readonly contextNamespace: string | undefined;
  /** The current user's bearer token (`oc login` gives one), for --pass-token. */
  readonly userToken: string | undefined;
}

export interface KubeStreamingOptions {
  /** Empty: KUBECONFIG or ~/.kube/config (or the in-cluster account). */
  readonly kubeconfigPath?: string;
  readonly verifyTls?: boolean;
}

/** A watch event carrying a whole object is rarely above a few hundred KiB. */
const MAX_LINE = 16 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

async function* linesOf(response: http.IncomingMessage): AsyncGenerator<string> {
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

export async function connectKubeStreaming(options: KubeStreamingOptions = {}): Promise<KubeStreaming> {
  const { config, server } = await loadKubeConfig(options.kubeconfigPath);
  const context = config.getContextObject(config.getCurrentContext());
  const token = config.getCurrentUser()?.token;

  return {
    contextNamespace: context?.namespace !== undefined && context.namespace !== '' ? context.namespace : undefined,
    userToken: token !== undefined && token !== '' ? token : undefined,
    async open(path, query, { signal, idleTimeoutMs }) {
      const url = new URL(path, server);
      for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
      const requestOptions: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
      await config.applyToHTTPSOptions(requestOptions);
      if (options.verifyTls === false) requestOptions.rejectUnauthorized = false;
      const what = `watch ${path}`;
      const transport = url.protocol === 'http:' ? http : https;
      return new Promise<AsyncIterable<string>>((resolve, reject) => {
        const request = transport.request(url, { ...requestOptions, signal }, (response) => {
          const status = response.statusCode ?? 0;
          if (status === 200) {
            resolve(linesOf(response));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size <= MAX_ERROR_BODY) chunks.push(chunk);
          });
          response.on('error', () => reject(new KubeApiError(status, what, '')));
          response.on('end', () => reject(new KubeApiError(status, what, statusReason(Buffer.concat(chunks).toString('utf8')))));
        });
        // A silent connection (a laptop that slept, a dead proxy) is noticed and replaced.
        request.setTimeout(idleTimeoutMs, () => request.destroy(transient(`${what}: no data for ${Math.round(idleTimeoutMs / 1000)} s`)));
        request.on('error', (error: NodeJS.ErrnoException) => {
          if (signal.aborted) reject(transient(`${what} was cancelled`));
          else if (error.code?.startsWith('ERR_TLS') === true || /CERT|SELF_SIGNED/.test(error.code ?? '')) {
            reject(refused(`Kubernetes API TLS verification failed (${error.code ?? 'error'}) on ${what}`));
          } else reject(error instanceof KubeApiError ? error : transient(`Kubernetes API unreachable (${error.code ?? error.message}) on ${what}`));
        });
        request.end();
      });
    },
  };
}
