/**
 * The Thoth User API client: discovery once, then submissions with a timeout on every
 * request, bounded retries on 5xx and transport failures, and errors that carry a kind and
 * a one-line reason. Query strings carry registry passwords, so nothing axios produces (its
 * errors hold the URL and parameters) ever leaves this module.
 */
import { readFileSync } from 'node:fs';
import type { Agent as HttpAgent } from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { http, https, tls } from '../builtins.js';
import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import type { AxiosInstance, AxiosRequestConfig } from 'axios';
import { BuildWatcherError, invalid, kindOfHttpStatus, kindOfTransportError, refused, transient } from '../errors.js';
import { backoffDelayMs, parseRetryAfter, validateRetryPolicy, type RetryPolicy } from '../retry.js';
import { onFirstUse } from '../single-flight.js';
import { thothBaseUrl } from './base-url.js';
import { encodeBuildAnalysisBody } from './build-log-body.js';
import { refusalReason, refusedImage, transportCode } from './failure.js';
import { buildAnalysisBody, buildAnalysisQuery, imageAnalysisQuery, secretsOf } from './requests.js';
import type { BuildAnalysisRequest, ImageAnalysisRequest } from './requests.js';
import { parseBuildAnalysisResponse, parseDiscovery, parseImageAnalysisResponse } from './responses.js';
import type { AnalysisTicket, BuildAnalysisResult, Parsed } from './responses.js';

export type ThothEndpoint = 'discovery' | 'build-analysis' | 'analyze';

/** One HTTP attempt, for latency metrics. */
export interface ThothRequestObservation {
  readonly endpoint: ThothEndpoint;
  /** The HTTP status, or what happened instead of one. */
  readonly status: number | 'timeout' | 'network' | 'aborted';
  readonly seconds: number;
}

export interface ThothClientOptions {
  /** THOTH_USER_API_HOST: `host[:port]` or an http(s) URL. */
  readonly host: string;
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

export interface SubmittedBuildAnalysis extends BuildAnalysisResult {
  /** Bytes cut from the front of the log to fit Thoth's body limit (0 = none). */
  readonly logBytesCut: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000 };
const MAX_RESPONSE_BYTES = 1024 * 1024;
const ROUTE_SUFFIX: Readonly<Record<Exclude<ThothEndpoint, 'discovery'>, RegExp>> = {
  'build-analysis': /\/build-analysis$/,
  analyze: /\/analyze$/,
};

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

type Attempt =
  | { readonly kind: 'response'; readonly status: number; readonly body: unknown; readonly retryAfterMs?: number }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'network'; readonly code: string };

function parseJson(data: unknown): unknown {
  if (typeof data !== 'string' || data === '') return undefined;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return undefined;
  }
}

function unwrap<T>(parsed: Parsed<T>, endpoint: ThothEndpoint): T {
  if (parsed.ok) return parsed.value;
  // Thoth accepted the request, so a resubmission lands in its cache: safe to redeliver.
  throw transient(`Thoth answered ${endpoint} with an unexpected body: ${parsed.problem}`);
}

/** The real `Submitter` of pipeline/ports.ts; functions/wiring.ts hands it to the pipeline. */
export class ThothClient {
  readonly baseUrl: string;
  readonly #http: AxiosInstance;
  readonly #httpAgent: HttpAgent;
  readonly #httpsAgent: HttpsAgent;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #random: () => number;
  readonly #onRequest: ((observation: ThothRequestObservation) => void) | undefined;
  readonly #closed = new AbortController();
  /** The historic client discovered the API before every call; once per client is enough. */
  readonly #routes = onFirstUse(() => this.#discover());

  constructor(options: ThothClientOptions) {
    this.baseUrl = thothBaseUrl(options.host);
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
        ca = [...tls().rootCertificates, readFileSync(options.caBundleFile, 'utf8')];
      } catch (error) {
        throw new TypeError(`cannot read the CA bundle ${options.caBundleFile}: ${transportCode(error)}`);
      }
    }
    this.#httpAgent = new http.Agent({ keepAlive: true });
    this.#httpsAgent = new (https().Agent)({
      keepAlive: true,
      rejectUnauthorized: options.verifyTls ?? true,
      ...(ca !== undefined ? { ca } : {}),
    });
    this.#http = axios.create({
      baseURL: this.baseUrl,
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

  /** POST /build-analysis: base image, output image and build log in one request. */
  async submitBuildAnalysis(request: BuildAnalysisRequest, signal?: AbortSignal): Promise<SubmittedBuildAnalysis> {
    if (request.base === undefined && request.output === undefined && request.buildLog === undefined) {
      throw invalid('nothing to submit to Thoth: no base image, output image or build log');
    }
    let encoded: ReturnType<typeof encodeBuildAnalysisBody>;
    try {
      encoded = encodeBuildAnalysisBody(buildAnalysisBody(request));
    } catch (error) {
      if (error instanceof RangeError) throw refused(`cannot submit to Thoth: ${error.message}`);
      throw error;
    }
    await this.#requireRoute('build-analysis', signal);
    const answer = await this.#exchange(
      'build-analysis',
      {
        method: 'POST',
        url: 'build-analysis',
        params: buildAnalysisQuery(request),
        data: Buffer.from(encoded.json),
        headers: { 'Content-Type': 'application/json' },
      },
      signal,
    );
    if (answer.status >= 200 && answer.status < 300) {
      const result = unwrap(parseBuildAnalysisResponse(answer.body, request.buildLog !== undefined), 'build-analysis');
      return { ...result, logBytesCut: encoded.logBytesCut };
    }
    const image = refusedImage(answer.body);
    const about = image !== undefined && image === request.base?.image ? 'base-image' : undefined;
    throw this.#refusal(answer, secretsOf([request.base, request.output]), (refused) => {
      if (refused !== undefined && refused === request.base?.image) return 'the base image';
      if (refused !== undefined && refused === request.output?.image) return 'the output image';
      return 'the build analysis';
    }, about);
  }

  /** POST /analyze: one image, e.g. one already in an image stream. */
  async submitImageAnalysis(request: ImageAnalysisRequest, signal?: AbortSignal): Promise<AnalysisTicket> {
    await this.#requireRoute('analyze', signal);
    const answer = await this.#exchange(
      'analyze',
      { method: 'POST', url: 'analyze', params: imageAnalysisQuery(request) },
      signal,
    );
    if (answer.status >= 200 && answer.status < 300) return unwrap(parseImageAnalysisResponse(answer.body), 'analyze');
    throw this.#refusal(answer, secretsOf([request]), () => 'the image');
  }

  /** Aborts requests in flight and closes idle connections. */
  close(): void {
    this.#closed.abort();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  #refusal(answer: Answer, secrets: readonly string[], subject: (image: string | undefined) => string, about?: string): BuildWatcherError {
    if (answer.status >= 300 && answer.status < 400) {
      return refused(`Thoth answered ${answer.status} (a redirect) instead of the API; check the configured host and scheme`);
    }
    const message = `Thoth refused ${subject(refusedImage(answer.body))}: ${refusalReason(answer.status, answer.body, secrets)}`;
    return new BuildWatcherError('refused', message, about === undefined ? {} : { about });
  }

  async #requireRoute(endpoint: Exclude<ThothEndpoint, 'discovery'>, signal: AbortSignal | undefined): Promise<void> {
    const routes = await this.#abortable(this.#routes(), signal, endpoint);
    if (!routes.some((route) => ROUTE_SUFFIX[endpoint].test(route.replace(/<[^>]*>/g, 'x')))) {
      throw refused(`Thoth's User API at this host does not offer ${endpoint}`);
    }
  }

  async #discover(): Promise<readonly string[]> {
    // Not tied to one caller's signal: every concurrent caller shares the outcome.
    const answer = await this.#exchange('discovery', { method: 'GET', url: '' }, undefined);
    if (answer.status < 200 || answer.status >= 300) {
      throw refused(`Thoth User API not supported at this host: discovery answered ${answer.status}`);
    }
    const routes = parseDiscovery(answer.body);
    if (!routes.ok) throw refused(`Thoth User API not supported at this host: discovery answer ${routes.problem}`);
    return routes.value;
  }

  async #abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, endpoint: ThothEndpoint): Promise<T> {
    if (signal === undefined) return promise;
    if (signal.aborted) throw this.#aborted(endpoint);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(this.#aborted(endpoint));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([promise, aborted]);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }

  #aborted(endpoint: ThothEndpoint): BuildWatcherError {
    return transient(`Thoth ${endpoint} request aborted`);
  }

  /** Attempts until an answer that is not worth retrying, or the attempts run out. */
  async #exchange(endpoint: ThothEndpoint, config: AxiosRequestConfig, signal: AbortSignal | undefined): Promise<Answer> {
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await this.#attempt(endpoint, config, signal);
      if (outcome.kind === 'response' && kindOfHttpStatus(outcome.status) !== 'transient') return outcome;
      if (outcome.kind === 'network' && kindOfTransportError(outcome.code) === 'refused') {
        throw refused(`TLS verification of the Thoth User API failed (${outcome.code}); trust its CA or disable verification`);
      }
      const problem =
        outcome.kind === 'response'
          ? `last answer ${outcome.status}`
          : outcome.kind === 'timeout'
            ? `timed out after ${this.#timeoutMs / 1000} s`
            : outcome.code;
      if (attempt >= this.#retry.attempts) {
        throw transient(`Thoth ${endpoint} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${problem}`);
      }
      const retryAfterMs = outcome.kind === 'response' ? outcome.retryAfterMs : undefined;
      const delay = backoffDelayMs(this.#retry, attempt, this.#random, retryAfterMs);
      try {
        await sleep(delay, undefined, { signal: this.#signals(signal) });
      } catch {
        throw this.#aborted(endpoint);
      }
    }
  }

  #signals(signal: AbortSignal | undefined, ...more: AbortSignal[]): AbortSignal {
    return AbortSignal.any([this.#closed.signal, ...(signal !== undefined ? [signal] : []), ...more]);
  }

  async #attempt(endpoint: ThothEndpoint, config: AxiosRequestConfig, signal: AbortSignal | undefined): Promise<Attempt> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const started = performance.now();
    try {
      const response = await this.#http.request<string>({ ...config, signal: this.#signals(signal, timeout) });
      this.#observe(endpoint, response.status, started);
      const retryAfterMs = parseRetryAfter(response.headers['retry-after'], Date.now());
      return {
        kind: 'response',
        status: response.status,
        body: parseJson(response.data),
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    } catch (error) {
      // `error` is an AxiosError holding the URL with its query: read its code, drop it.
      if (signal?.aborted === true || this.#closed.signal.aborted) {
        this.#observe(endpoint, 'aborted', started);
        throw this.#aborted(endpoint);
      }
      if (timeout.aborted) {
        this.#observe(endpoint, 'timeout', started);
        return { kind: 'timeout' };
      }
      this.#observe(endpoint, 'network', started);
      return { kind: 'network', code: transportCode(error) };
    }
  }

  #observe(endpoint: ThothEndpoint, status: ThothRequestObservation['status'], started: number): void {
    if (this.#onRequest === undefined) return;
    try {
      this.#onRequest({ endpoint, status, seconds: (performance.now() - started) / 1000 });
    } catch {
      // A broken metrics hook must not fail a submission.
    }
  }
}
