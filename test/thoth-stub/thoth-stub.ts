/**
 * A Thoth User API stand-in for tests, as strict as the real service (see README.md here):
 *
 *   const thoth = await ThothStub.start({ registryCa: [await readFile(registry.caPath!)] });
 *   // THOTH_USER_API_HOST=thoth.url
 *   const [submission] = await thoth.awaitSubmissions(1);
 *   await thoth.close();
 *
 * Images are checked to exist in their registries with the credentials given, exactly as
 * Thoth's `skopeo inspect` would, so a submission of a reference that was never pushed fails.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  ANALYZE_QUERY,
  BUILD_ANALYSIS_QUERY,
  checkBuildDetail,
  checkQuery,
  NO_QUERY,
  truthy,
} from './contract.js';
import type { BuildDetail, QuerySpec, QueryValue } from './contract.js';
import { Faults, routerPage } from './faults.js';
import type { FaultTarget, InjectedFailure, Rewrite, StubEndpoint } from './faults.js';
import { inspectImage, MESSAGES } from './registry-inspect.js';
import type { InspectOptions, Inspection } from './registry-inspect.js';

export const STUB_VERSION = '0.35.0-stub';
const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Past this much unread body the connection is dropped rather than drained. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

export type { FaultTarget, InjectedFailure, Rewrite, StubAnswer, StubEndpoint } from './faults.js';

export interface ThothStubOptions {
  /** Serve https with this key and certificate. */
  readonly tls?: { readonly key: string | Buffer; readonly cert: string | Buffer };
  /** CAs the "Thoth host" trusts when pulling from registries with verify_tls=true. */
  readonly registryCa?: ReadonlyArray<string | Buffer>;
  /** Registries configured insecure on the "Thoth host" (plain HTTP even with verify_tls). */
  readonly plainHttpRegistries?: readonly string[];
  readonly maxBodyBytes?: number;
  readonly registryTimeoutMs?: number;
}

/** An accepted (202) submission, parsed. `query` holds credentials: for assertions only. */
export interface RecordedSubmission {
  readonly endpoint: 'build-analysis' | 'analyze';
  readonly query: Readonly<Record<string, QueryValue>>;
  /** The build-analysis body; absent for /analyze. */
  readonly body?: BuildDetail;
  readonly bodyBytes: number;
  /** The JSON the stub answered. */
  readonly response: Readonly<Record<string, unknown>>;
}

/** A submission as sent, whatever the answer: each image with the credentials sent for it. */
export interface SubmissionAttempt {
  readonly images: readonly { readonly image: string; readonly user?: QueryValue; readonly password?: QueryValue }[];
}

/** The image and the credentials Thoth was given for it under `prefix` (`output_registry_`, …). */
function sentImage(image: unknown, query: Readonly<Record<string, QueryValue>>, prefix: string): SubmissionAttempt['images'] {
  if (typeof image !== 'string') return [];
  const user = query[`${prefix}user`];
  const password = query[`${prefix}password`];
  return [{ image, ...(user !== undefined ? { user } : {}), ...(password !== undefined ? { password } : {}) }];
}

/** Every request, without its query string (which may hold passwords). */
export interface RecordedRequest {
  readonly method: string;
  readonly endpoint: StubEndpoint;
  readonly path: string;
  readonly status: number | 'stalled' | 'reset';
}

export interface AnalysisState {
  readonly state: string;
  readonly reason: string | null;
  readonly started_at: string | null;
  readonly finished_at: string | null;
}

interface Waiter {
  readonly count: number;
  readonly resolve: (submissions: readonly RecordedSubmission[]) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const ROUTES = [
  '/api/v1',
  '/api/v1/analyze',
  '/api/v1/analyze/<analysis_id>',
  '/api/v1/analyze/<analysis_id>/log',
  '/api/v1/analyze/<analysis_id>/status',
  '/api/v1/analyze/by-hash/<image_hash>',
  '/api/v1/build-analysis',
  '/api/v1/buildlog/<document_id>',
  '/api/v1/image/metadata',
];

function endpointOf(method: string, path: string): { endpoint: StubEndpoint; allowed: boolean } {
  if (path === '/api/v1' || path === '/api/v1/') return { endpoint: 'discovery', allowed: method === 'GET' };
  if (path === '/api/v1/build-analysis') return { endpoint: 'build-analysis', allowed: method === 'POST' };
  if (path === '/api/v1/analyze') return { endpoint: 'analyze', allowed: method === 'POST' };
  if (/^\/api\/v1\/analyze\/[^/]+\/status$/.test(path)) return { endpoint: 'analysis-status', allowed: method === 'GET' };
  return { endpoint: 'other', allowed: false };
}

function timestamp(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    pad(now.getUTCFullYear() % 100) +
    pad(now.getUTCMonth() + 1) +
    pad(now.getUTCDate()) +
    pad(now.getUTCHours()) +
    pad(now.getUTCMinutes()) +
    pad(now.getUTCSeconds())
  );
}

/** Like thoth-common's OpenShift.generate_id: `<prefix>-YYMMDDhhmmss-<16 hex>`. */
export function generateId(prefix: string, now = new Date()): string {
  return `${prefix}-${timestamp(now)}-${randomBytes(8).toString('hex')}`;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Python's json.dumps(sort_keys=True), near enough for cache keys. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}: ${sortedJson(item)}`).join(', ')}}`;
  }
  return JSON.stringify(value ?? null);
}

class HttpAnswer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly contentType = 'application/json',
  ) {}
}

class TooLarge {
  constructor(readonly limit: number) {}
}

function rewritten(answer: HttpAnswer, rewrite: Rewrite, url: URL): HttpAnswer {
  const { status, body } = rewrite({ status: answer.status, body: answer.body }, Object.fromEntries(url.searchParams));
  return new HttpAnswer(status, body, answer.contentType);
}

const problem = (status: number, title: string, detail: string) =>
  new HttpAnswer(status, { detail, status, title, type: 'about:blank' }, 'application/problem+json');

export class ThothStub {
  readonly url: string;
  readonly #server: http.Server;
  readonly #options: ThothStubOptions;
  readonly #submissions: RecordedSubmission[] = [];
  readonly #attempts: SubmissionAttempt[] = [];
  readonly #requests: RecordedRequest[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #faults = new Faults();
  readonly #imageCache = new Map<string, string>();
  readonly #buildLogCache = new Map<string, string>();
  readonly #states = new Map<string, AnalysisState>();
  readonly #stalled = new Set<http.ServerResponse>();
  /** Answers computed but not yet sent (holdNext), each with its way to send. */
  readonly #held = new Map<http.ServerResponse, () => void>();

  private constructor(server: http.Server, url: string, options: ThothStubOptions) {
    this.#server = server;
    this.url = url;
    this.#options = options;
  }

  static async start(options: ThothStubOptions = {}): Promise<ThothStub> {
    const server = options.tls !== undefined ? https.createServer({ ...options.tls }) : http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const stub = new ThothStub(server, `${options.tls !== undefined ? 'https' : 'http'}://127.0.0.1:${port}`, options);
    server.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
      stub.#handle(request, response).catch(() => {
        if (!response.headersSent) response.writeHead(500).end();
        else response.destroy();
      });
    });
    return stub;
  }

  /** Accepted submissions, in order. */
  get submissions(): readonly RecordedSubmission[] {
    return [...this.#submissions];
  }

  /** Every well-formed submission, accepted or refused: the images and the credentials Thoth was given. For assertions only. */
  get attempts(): readonly SubmissionAttempt[] {
    return [...this.#attempts];
  }

  get requests(): readonly RecordedRequest[] {
    return [...this.#requests];
  }

  /** Resolves with all submissions once at least `count` were accepted; rejects at the deadline. */
  awaitSubmissions(count: number, timeoutMs = 10_000): Promise<readonly RecordedSubmission[]> {
    if (this.#submissions.length >= count) return Promise.resolve(this.submissions);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        count,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new Error(`expected ${count} accepted Thoth submissions within ${timeoutMs} ms, got ${this.#submissions.length}`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** The next `count` matching requests get `failure` before anything else happens. */
  failNext(count: number, failure: InjectedFailure): void {
    this.#faults.add(count, failure.on ?? 'submission', { kind: 'fail', failure });
  }

  /** The next `count` matching requests are never answered (until close): for timeouts. */
  stallNext(count: number, on: FaultTarget = 'submission'): void {
    this.#faults.add(count, on, { kind: 'stall' });
  }

  /** The next `count` matching requests have their connection destroyed once their body is read. */
  resetNext(count: number, on: FaultTarget = 'submission'): void {
    this.#faults.add(count, on, { kind: 'reset' });
  }

  /**
   * The next `count` matching requests are processed as usual (a submission is accepted and
   * recorded at once), but their answers wait for releaseHeld(): Thoth accepted, its answer late.
   */
  holdNext(count: number, on: FaultTarget = 'submission'): void {
    this.#faults.add(count, on, { kind: 'hold' });
  }

  /**
   * The next `count` matching requests are processed as usual (a submission is accepted and recorded), then answered with what
   * `rewrite` makes of the answer and of the request's query: a Thoth that echoes credentials back, or returns broken ids.
   */
  rewriteNext(count: number, rewrite: Rewrite, on: FaultTarget = 'submission'): void {
    this.#faults.add(count, on, { kind: 'rewrite', rewrite });
  }

  /** Answers held so far and not yet released. */
  get held(): number {
    return this.#held.size;
  }

  /** Sends every held answer, to whoever is still connected; answers how many. */
  releaseHeld(): number {
    const held = [...this.#held.values()];
    this.#held.clear();
    for (const send of held) send();
    return held.length;
  }

  /** Forgets every injected fault not yet used. */
  clearFailures(): void {
    this.#faults.clear();
  }

  setAnalysisState(analysisId: string, state: Partial<AnalysisState> & { readonly state: string }): void {
    this.#states.set(analysisId, { reason: null, started_at: null, finished_at: null, ...state });
  }

  async close(): Promise<void> {
    for (const waiter of this.#waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('the Thoth stub was closed'));
    }
    this.#waiters.clear();
    for (const response of [...this.#stalled, ...this.#held.keys()]) response.destroy();
    this.#held.clear();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://stub');
    const method = request.method ?? 'GET';
    const { endpoint, allowed } = endpointOf(method, url.pathname);
    const record = (status: RecordedRequest['status']) => this.#requests.push({ method, endpoint, path: url.pathname, status });
    const body = await this.#readBody(request);
    if (body === 'dropped') {
      record(400);
      return;
    }

    const injected = this.#faults.take(endpoint);
    if (injected?.kind === 'reset') {
      record('reset');
      request.socket.destroy();
      return;
    }
    if (injected?.kind === 'stall') {
      record('stalled');
      this.#stalled.add(response);
      response.on('close', () => this.#stalled.delete(response));
      return;
    }
    if (injected?.kind === 'fail') {
      record(injected.failure.status);
      this.#sendInjected(response, injected.failure);
      return;
    }

    const computed = await this.#answer(method, endpoint, allowed, url, request.headers['content-type'], body);
    const answer = injected?.kind === 'rewrite' ? rewritten(computed, injected.rewrite, url) : computed;
    record(answer.status);
    if (injected?.kind === 'hold') {
      this.#held.set(response, () => this.#send(response, answer));
      response.on('close', () => this.#held.delete(response));
      return;
    }
    this.#send(response, answer);
  }

  #readBody(request: http.IncomingMessage): Promise<Buffer | TooLarge | 'dropped'> {
    const limit = this.#options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= limit) chunks.push(chunk);
        else if (size > MAX_DRAIN_BYTES) {
          request.destroy();
          resolve('dropped');
        }
      });
      request.on('end', () => resolve(size > limit ? new TooLarge(limit) : Buffer.concat(chunks)));
      request.on('error', () => resolve('dropped'));
    });
  }

  async #answer(
    method: string,
    endpoint: StubEndpoint,
    allowed: boolean,
    url: URL,
    contentType: string | undefined,
    body: Buffer | TooLarge,
  ): Promise<HttpAnswer> {
    if (body instanceof TooLarge) return new HttpAnswer(400, { error: `Input exceeded ${body.limit} bytes` });
    if (endpoint === 'other') {
      return new HttpAnswer(404, {
        error: '404 Not Found: The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.',
      });
    }
    if (!allowed) return new HttpAnswer(405, { error: '405 Method Not Allowed: The method is not allowed for the requested URL.' });
    if (endpoint === 'discovery') return new HttpAnswer(200, { paths: ROUTES });

    const spec: QuerySpec =
      endpoint === 'build-analysis' ? BUILD_ANALYSIS_QUERY : endpoint === 'analyze' ? ANALYZE_QUERY : NO_QUERY;
    const query = checkQuery(url.searchParams, spec);
    if (!query.ok) return problem(400, 'Bad Request', query.detail);

    if (endpoint === 'analysis-status') return this.#status(decodeURIComponent(url.pathname.split('/')[4] ?? ''));
    if (endpoint === 'analyze') {
      this.#attempts.push({ images: sentImage(query.value['image'], query.value, 'registry_') });
      return this.#analyze(query.value, body);
    }

    const detail = checkBuildDetail(contentType, body);
    if (!detail.ok) return detail.status === 415 ? problem(415, 'Unsupported Media Type', detail.detail) : problem(400, 'Bad Request', detail.detail);
    this.#attempts.push({
      images: [...sentImage(detail.value.output_image, query.value, 'output_registry_'), ...sentImage(detail.value.base_image, query.value, 'base_registry_')],
    });
    return this.#buildAnalysis(query.value, detail.value, body.length);
  }

  #inspectOptions(user: QueryValue | undefined, password: QueryValue | undefined, verifyTls: boolean): InspectOptions {
    return {
      verifyTls,
      ...(typeof user === 'string' && typeof password === 'string' && user !== '' && password !== ''
        ? { credentials: { username: user, password } }
        : {}),
      ...(this.#options.registryCa !== undefined ? { ca: this.#options.registryCa } : {}),
      ...(this.#options.plainHttpRegistries !== undefined ? { plainHttpRegistries: this.#options.plainHttpRegistries } : {}),
      ...(this.#options.registryTimeoutMs !== undefined ? { timeoutMs: this.#options.registryTimeoutMs } : {}),
    };
  }

  /** Thoth's _do_get_image_metadata: the error body echoes every parameter, password included. */
  async #inspect(image: string, user: QueryValue | undefined, password: QueryValue | undefined, verifyTls: boolean) {
    const parameters = { image, registry_user: user ?? null, registry_password: password ?? null, verify_tls: verifyTls };
    let inspection: Inspection;
    if (truthy(user) !== truthy(password)) inspection = { ok: false, status: 400, error: MESSAGES.halfCredentials };
    else inspection = await inspectImage(image, this.#inspectOptions(user, password, verifyTls));
    if (!inspection.ok) return new HttpAnswer(inspection.status, { error: inspection.error, parameters });
    return inspection;
  }

  #cachedAnalysis(key: string, force: boolean): { analysisId: string; cached: boolean } {
    const cached = force ? undefined : this.#imageCache.get(key);
    return cached !== undefined ? { analysisId: cached, cached: true } : { analysisId: generateId('package-extract'), cached: false };
  }

  async #buildAnalysis(query: Readonly<Record<string, QueryValue>>, detail: BuildDetail, bodyBytes: number): Promise<HttpAnswer> {
    const force = query['force'] === true;
    const { base_image: baseImage, output_image: outputImage, build_log: buildLog } = detail;
    if (!truthy(outputImage) && !truthy(baseImage) && !truthy(buildLog)) {
      return new HttpAnswer(400, { error: 'No base, output nor build log provided' });
    }

    let buildLogDocumentId: string | null = null;
    let cachedParser: string | undefined;
    const buildLogKey = truthy(buildLog) ? sha256Hex(sortedJson(buildLog)) : undefined;
    if (buildLogKey !== undefined) {
      buildLogDocumentId = generateId('buildlog');
      if (!force) cachedParser = this.#buildLogCache.get(buildLogKey);
    }

    const analyses: Record<'base' | 'output', { analysisId: string; cached: boolean; key: string; parameters: object } | null> = {
      base: null,
      output: null,
    };
    for (const side of ['base', 'output'] as const) {
      const image = side === 'base' ? baseImage : outputImage;
      if (typeof image !== 'string' || image === '') continue;
      const verifyTls = query[`${side}_registry_verify_tls`] !== false;
      const inspected = await this.#inspect(image, query[`${side}_registry_user`], query[`${side}_registry_password`], verifyTls);
      if (inspected instanceof HttpAnswer) return inspected;
      const key = `${inspected.digest}+${sha256Hex(JSON.stringify(image))}`;
      analyses[side] = {
        ...this.#cachedAnalysis(key, force),
        key,
        parameters: { [`${side}_image`]: image, registry_verify_tls: verifyTls },
      };
    }

    const parserId = cachedParser ?? generateId('buildlog-parser');
    for (const analysis of Object.values(analyses)) {
      if (analysis === null) continue;
      this.#imageCache.set(analysis.key, analysis.analysisId);
      if (!this.#states.has(analysis.analysisId)) this.setAnalysisState(analysis.analysisId, { state: 'pending' });
    }
    if (buildLogKey !== undefined && cachedParser === undefined) this.#buildLogCache.set(buildLogKey, parserId);

    const ticket = (analysis: (typeof analyses)['base']) =>
      analysis === null ? null : { analysis_id: analysis.analysisId, cached: analysis.cached, parameters: analysis.parameters };
    const response = {
      base_image_analysis: ticket(analyses.base),
      output_image_analysis: ticket(analyses.output),
      buildlog_analysis: { analysis_id: parserId, cached: cachedParser !== undefined },
      buildlog_document_id: buildLogDocumentId,
    };
    this.#record({ endpoint: 'build-analysis', query, body: detail, bodyBytes, response });
    return new HttpAnswer(202, response);
  }

  async #analyze(query: Readonly<Record<string, QueryValue>>, body: Buffer): Promise<HttpAnswer> {
    const image = String(query['image']);
    const verifyTls = query['verify_tls'] !== false;
    const inspected = await this.#inspect(image, query['registry_user'], query['registry_password'], verifyTls);
    if (inspected instanceof HttpAnswer) return inspected;
    // Thoth's parameters (echoed in the 202, password and all) also key its cache.
    const parameters = {
      image,
      debug: query['debug'] === true,
      registry_user: query['registry_user'] ?? null,
      registry_password: query['registry_password'] ?? null,
      environment_type: 'runtime',
      origin: query['origin'] ?? null,
      verify_tls: verifyTls,
      is_external: true,
    };
    const key = `${inspected.digest}+${sha256Hex(sortedJson(parameters))}`;
    const analysis = this.#cachedAnalysis(key, query['force'] === true);
    this.#imageCache.set(key, analysis.analysisId);
    if (!this.#states.has(analysis.analysisId)) this.setAnalysisState(analysis.analysisId, { state: 'pending' });
    const response = { analysis_id: analysis.analysisId, cached: analysis.cached, parameters };
    this.#record({ endpoint: 'analyze', query, bodyBytes: body.length, response });
    return new HttpAnswer(202, response);
  }

  #status(analysisId: string): HttpAnswer {
    const parameters = { analysis_id: analysisId };
    if (!analysisId.startsWith('package-extract-')) return new HttpAnswer(400, { error: 'Wrong analysis id provided', parameters });
    const status = this.#states.get(analysisId);
    if (status === undefined) {
      return new HttpAnswer(404, { error: `Status for analysis ${analysisId} was not found or it has not started yet`, parameters });
    }
    return new HttpAnswer(200, { status, parameters });
  }

  #record(submission: RecordedSubmission): void {
    this.#submissions.push(submission);
    for (const waiter of this.#waiters) {
      if (this.#submissions.length < waiter.count) continue;
      clearTimeout(waiter.timer);
      this.#waiters.delete(waiter);
      waiter.resolve(this.submissions);
    }
  }

  #send(response: http.ServerResponse, answer: HttpAnswer, extraHeaders: Readonly<Record<string, string>> = {}): void {
    response.writeHead(answer.status, {
      ...extraHeaders,
      'Content-Type': answer.contentType,
      'X-Thoth-Version': STUB_VERSION,
      'X-User-API-Service-Version': STUB_VERSION,
      'X-Thoth-Search-Ui-Url': 'https://thoth-station.ninja/search/',
    });
    response.end(JSON.stringify(answer.body));
  }

  #sendInjected(response: http.ServerResponse, failure: InjectedFailure): void {
    const retryAfter = failure.retryAfterSeconds !== undefined ? { 'Retry-After': String(failure.retryAfterSeconds) } : {};
    const page = routerPage(failure.status);
    if (page !== undefined) {
      // The router in front answers, not Thoth: HTML, none of Thoth's headers.
      response.writeHead(failure.status, { 'Content-Type': 'text/html', 'Cache-Control': 'no-cache', ...retryAfter });
      response.end(page);
      return;
    }
    this.#send(
      response,
      new HttpAnswer(failure.status, {
        error: 'Internal server error occurred, please contact administrator with provided details.',
        details: { type: 'InjectedFailure', datetime: new Date().toISOString() },
      }),
      retryAfter,
    );
  }
}
