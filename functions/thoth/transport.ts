/**
 * How a request travels to Thoth: a timeout on every attempt, the one retry policy, and
 * resend.ts's rule for what may be sent twice. Query strings carry registry passwords, so
 * nothing axios produces (its errors hold the URL and parameters) ever leaves this module.
 */
import type { Agent as HttpAgent, ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import type { AxiosInstance, AxiosRequestConfig } from 'axios';
import { http, https, tls } from '../builtins.js';
import { refused, transient, type BuildWatcherError } from '../errors.js';
import { backoffDelayMs, parseRetryAfter, validateRetryPolicy, type RetryPolicy } from '../retry.js';
import { SubmissionOutcomeUnknown, transportCode } from './failure.js';
import { readLocalFile, unreadableBecause } from '../local-file.js';
import { resendVerdict, type AttemptEnd } from './resend.js';

export type ThothEndpoint = 'discovery' | 'build-analysis' | 'analyze';

/** One HTTP attempt, for metrics. */
export interface ThothRequestObservation {
  readonly endpoint: ThothEndpoint;
  readonly status: number | 'timeout' | 'network' | 'aborted';
  readonly seconds: number;
  /** A submission this attempt may have delivered: it ends the call, not re-sent. */
  readonly ambiguous: boolean;
}

export interface ThothTransportOptions {
  /** Default true; THOTH_NO_TLS_VERIFY=1 turns it off. */
  readonly verifyTls?: boolean;
  /** PEM file of extra CAs trusted on top of the system's. */
  readonly caBundleFile?: string;
  /** Per attempt, covering connect to last byte. Default 120 s. */
  readonly timeoutMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly onRequest?: (observation: ThothRequestObservation) => void;
  /** Jitter source in [0, 1); tests pin it. */
  readonly random?: () => number;
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000 };
const MAX_RESPONSE_BYTES = 1024 * 1024;

type Attempt = AttemptEnd & { readonly body?: unknown; readonly retryAfterMs?: number };

function parseJson(data: unknown): unknown {
  if (typeof data !== 'string' || data === '') return undefined;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}

/** node's request function for axios, noting when the attempt's connection is open (a kept-alive socket already is). */
function watchingTransport(opened: () => void): { request(options: RequestOptions, callback: (response: IncomingMessage) => void): ClientRequest } {
  return {
    request(options, callback) {
      const request = (options.protocol === 'https:' ? https() : http).request(options, callback);
      request.once('socket', (socket: Socket) => {
        if (socket.connecting) socket.once('connect', opened);
        else opened();
      });
      return request;
    },
  };
}

export class ThothTransport {
  readonly #http: AxiosInstance;
  readonly #httpAgent: HttpAgent;
  readonly #httpsAgent: HttpsAgent;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #random: () => number;
  readonly #onRequest: ((observation: ThothRequestObservation) => void) | undefined;
  readonly #closed = new AbortController();

  constructor(baseUrl: string, options: ThothTransportOptions) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError(`expected timeoutMs to be a positive number, received ${timeoutMs}`);
    }
    this.#timeoutMs = timeoutMs;
    this.#retry = validateRetryPolicy({ ...DEFAULT_RETRY_POLICY, ...options.retry });
    this.#random = options.random ?? Math.random;
    this.#onRequest = options.onRequest;

    let ca: string[] | undefined;
    if (options.caBundleFile !== undefined && options.caBundleFile !== '') {
      try {
        ca = [...tls().rootCertificates, readLocalFile(options.caBundleFile)];
      } catch (error) {
        throw new TypeError(`cannot read the CA bundle ${options.caBundleFile}: ${unreadableBecause(error)}`);
      }
    }
    this.#httpAgent = new http.Agent({ keepAlive: true });
    this.#httpsAgent = new (https().Agent)({
      keepAlive: true,
      rejectUnauthorized: options.verifyTls ?? true,
      ...(ca !== undefined ? { ca } : {}),
    });
    this.#http = axios.create({
      baseURL: baseUrl,
      httpAgent: this.#httpAgent,
      httpsAgent: this.#httpsAgent,
      // A redirect would replay the query (passwords) to wherever it points.
      maxRedirects: 0,
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      maxContentLength: MAX_RESPONSE_BYTES,
      headers: { Accept: 'application/json', 'User-Agent': 'build-watcher' },
    });
  }

  close(): void {
    this.#closed.abort();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  aborted(endpoint: ThothEndpoint): BuildWatcherError {
    return transient(`Thoth ${endpoint} request aborted`);
  }

  /** Attempts until an answer for the caller, an outcome that may not be sent again, or the attempts run out. */
  async exchange(endpoint: ThothEndpoint, config: AxiosRequestConfig, signal: AbortSignal | undefined): Promise<Answer> {
    for (let attempt = 1; ; attempt += 1) {
      const { end, verdict } = await this.#attempt(endpoint, config, signal);
      if (verdict === 'answer' && end.kind === 'response') return { status: end.status, body: end.body };
      if (verdict === 'untrusted' && end.kind === 'network') {
        throw refused(`TLS verification of the Thoth User API failed (${end.code}); trust its CA or disable verification`);
      }
      // Only a submission can be `unknown`; `discovery` (a GET) narrows the type.
      if (verdict === 'unknown' && endpoint !== 'discovery') throw new SubmissionOutcomeUnknown(endpoint, this.#problem(end, true));
      if (attempt >= this.#retry.attempts) {
        throw transient(`Thoth ${endpoint} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${this.#problem(end, false)}`);
      }
      const delay = backoffDelayMs(this.#retry, attempt, this.#random, end.retryAfterMs);
      try {
        await sleep(delay, undefined, { signal: this.#signals(signal) });
      } catch {
        throw this.aborted(endpoint);
      }
    }
  }

  #problem(end: Attempt, unknown: boolean): string {
    if (end.kind === 'response') return unknown ? `answered ${end.status}` : `last answer ${end.status}`;
    if (end.kind === 'timeout') return `timed out after ${this.#timeoutMs / 1000} s`;
    return unknown ? `${end.code} after the connection opened` : end.code;
  }

  #signals(signal: AbortSignal | undefined, ...more: AbortSignal[]): AbortSignal {
    return AbortSignal.any([this.#closed.signal, ...(signal !== undefined ? [signal] : []), ...more]);
  }

  async #attempt(endpoint: ThothEndpoint, config: AxiosRequestConfig, signal: AbortSignal | undefined) {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const started = performance.now();
    let connected = false;
    const transport = watchingTransport(() => (connected = true));
    const ended = (end: Attempt, status: ThothRequestObservation['status']) => {
      const verdict = resendVerdict(end, config.method ?? 'GET');
      this.#observe({ endpoint, status, seconds: (performance.now() - started) / 1000, ambiguous: verdict === 'unknown' });
      return { end, verdict };
    };
    try {
      const response = await this.#http.request<string>({ ...config, transport, signal: this.#signals(signal, timeout) });
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], Date.now());
      const end = { kind: 'response', status: response.status, body: parseJson(response.data), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } as const;
      return ended(end, response.status);
    } catch (error) {
      // `error` is an AxiosError holding the URL with its query: read its code, drop it.
      if (signal?.aborted === true || this.#closed.signal.aborted) {
        this.#observe({ endpoint, status: 'aborted', seconds: (performance.now() - started) / 1000, ambiguous: false });
        throw this.aborted(endpoint);
      }
      if (timeout.aborted) return ended({ kind: 'timeout', connected }, 'timeout');
      return ended({ kind: 'network', code: transportCode(error), connected }, 'network');
    }
  }

  #observe(observation: ThothRequestObservation): void {
    if (this.#onRequest === undefined) return;
    try {
      this.#onRequest(observation);
    } catch {
      // A broken metrics hook must not fail a submission.
    }
  }
}
