/**
 * One registry as seen by one side of a copy: its origin (https, or http where allowed), connection pool and
 * authentication state. Authorization goes only to the registry's own origin: redirects to blob storage never carry it.
 */
// size: the authentication state and the requests it signs are one: a 401 re-authenticates mid-request
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { RegistryCredentials } from '../domain/built-image.js';
import type { BodyWriter } from './blob-pump.js';
import { basicAuthorization, parseChallenges, parseTokenResponse, realmProblem, type Challenge, type CredentialsProvider, type IssuedToken } from './auth.js';
import { createAgents, discard, isLoopbackHost, readLimited, send, type Agents, type RegistryTlsOptions } from './http-transport.js';
import { rawGet, type RawGetAnswer } from './raw-body-get.js';
import { networkError, RegistryError, unexpectedStatus } from './registry-error.js';
import { withRetries, type RetryOptions, type RetryPolicy } from '../retry.js';
import { SingleFlight } from '../single-flight.js';

export interface SessionOptions {
  /** `host[:port]`. */
  readonly registry: string;
  readonly tls: RegistryTlsOptions;
  readonly credentials: CredentialsProvider | undefined;
  /** Token scopes to ask for, e.g. `repository:ns/app:pull`. */
  readonly scopes: readonly string[];
  readonly maxSockets: number;
  readonly idleTimeoutMs: number;
  /** The longest a small exchange (version check, token, manifest) may take, body included: http-transport.ts `deadlineMs`. */
  readonly smallExchangeDeadlineMs: number;
  readonly retry: RetryPolicy;
  readonly signal: AbortSignal;
  readonly onRetry?: RetryOptions['onRetry'];
}

export interface SessionRequest {
  readonly method: string;
  /** A path on the registry, or an absolute URL (upload locations). */
  readonly path: string;
  /** Names the operation in error messages, e.g. 'fetch manifest'. */
  readonly what: string;
  readonly repository?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: Buffer | BodyWriter;
  /** Follow redirects by hand (GET and HEAD only). */
  readonly followRedirects?: boolean;
  /** A small answer the caller reads whole (a manifest): the whole exchange is held to the session's deadline for those. */
  readonly small?: boolean;
  /** Replaces the session's signal: a clean-up (an upload's cancel) must still go out once the copy has stopped. */
  readonly signal?: AbortSignal;
}

type AuthMode = { readonly kind: 'anonymous' } | { readonly kind: 'basic' } | { readonly kind: 'bearer'; readonly realm: string; readonly service: string | undefined };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const TOKEN_BODY_LIMIT = 1024 * 1024;

/** Docker Hub's name in image references is not the host that serves its API. */
function apiHost(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? 'registry-1.docker.io' : registry;
}

export class RegistrySession {
  readonly registry: string;
  readonly origin: URL;
  readonly #options: SessionOptions;
  readonly #agents: Agents;
  readonly #scopes: Set<string>;
  #mode: AuthMode = { kind: 'anonymous' };
  #credentials: RegistryCredentials | undefined;
  #token: IssuedToken | undefined;
  readonly #tokenRequests = new SingleFlight<IssuedToken>();

  private constructor(options: SessionOptions, origin: URL, agents: Agents) {
    this.registry = options.registry;
    this.origin = origin;
    this.#options = options;
    this.#agents = agents;
    this.#scopes = new Set(options.scopes);
  }

  /** Finds the registry's scheme and authentication, and authenticates once. */
  static async open(options: SessionOptions): Promise<RegistrySession> {
    const agents = await createAgents(options.tls, options.maxSockets);
    try {
      const host = apiHost(options.registry);
      const loopback = isLoopbackHost(new URL(`https://${host}`).hostname);
      // Loopback registries (tests, sidecars) mostly speak plain HTTP: asking that first saves
      // a failed handshake. Elsewhere plain HTTP is a fallback, and only when allowed.
      const schemes = loopback ? ['http', 'https'] : options.tls.allowPlainHttp === true ? ['https', 'http'] : ['https'];
      let session: RegistrySession | undefined;
      let ping: IncomingMessage | undefined;
      for (const [index, scheme] of schemes.entries()) {
        session = new RegistrySession(options, new URL(`${scheme}://${host}`), agents);
        const last = index === schemes.length - 1;
        try {
          ping = await session.#ping(last);
          break;
        } catch (error) {
          // Only "this is not the right protocol" moves on: no answer, or a TLS server's 400 to
          // plain HTTP. A certificate error says the registry speaks TLS, and is final.
          const wrongProtocol = error instanceof RegistryError
            && (error.kind === 'transient' && error.httpStatus === undefined || scheme === 'http' && error.httpStatus === 400);
          if (last || !wrongProtocol) throw error;
        }
      }
      if (session === undefined || ping === undefined) throw new TypeError('unreachable');
      await session.#authenticate(ping);
      return session;
    } catch (error) {
      agents.destroy();
      throw error;
    }
  }

  close(): void {
    this.#agents.destroy();
  }

  retrying<T>(operation: (attempt: number) => Promise<T>): Promise<T> {
    const { signal, onRetry } = this.#options;
    return withRetries(this.#options.retry, operation, { signal, ...(onRetry ? { onRetry } : {}) });
  }

  #where(repository?: string): { registry: string; repository?: string } {
    return repository === undefined ? { registry: this.registry } : { registry: this.registry, repository };
  }

  #ping(retry: boolean): Promise<IncomingMessage> {
    const once = async (): Promise<IncomingMessage> => {
      const res = await this.#send('GET', new URL('/v2/', this.origin), {}, undefined, 'version check', undefined, undefined, true);
      if (res.statusCode === 200 || res.statusCode === 401) return res;
      throw await unexpectedStatus(res, this.#where(), 'version check');
    };
    return retry ? this.retrying(once) : once();
  }

  async #authenticate(ping: IncomingMessage): Promise<void> {
    const challenge = ping.statusCode === 401 ? parseChallenges(ping.headers['www-authenticate'] ?? '') : undefined;
    discard(ping);
    if (ping.statusCode === 200) return;
    if (challenge === undefined) throw new RegistryError('refused', this.#where(), 'asks for an authentication scheme other than Basic or Bearer', { httpStatus: 401 });
    this.#useChallenge(challenge);
    this.#credentials = await this.#options.credentials?.();
    if (this.#mode.kind === 'bearer') {
      await this.#fetchToken();
      return;
    }
    if (this.#credentials === undefined) throw new RegistryError('refused', this.#where(), 'requires credentials and none were given', { httpStatus: 401 });
    // Checking Basic credentials now gives a clear error before any blob moves.
    const check = await this.retrying(() => this.#send('GET', new URL('/v2/', this.origin),
      { authorization: basicAuthorization(this.#credentials as RegistryCredentials) }, undefined, 'version check'));
    if (check.statusCode !== 200) throw await unexpectedStatus(check, this.#where(), 'login');
    discard(check);
  }

  #useChallenge(challenge: Challenge): void {
    if (challenge.scheme === 'basic') {
      this.#mode = { kind: 'basic' };
      return;
    }
    const realm = challenge.params['realm'];
    if (realm === undefined) throw new RegistryError('refused', this.#where(), 'Bearer challenge without a realm', { httpStatus: 401 });
    const problem = realmProblem(realm, this.origin);
    if (problem !== undefined) throw new RegistryError('refused', this.#where(), problem, { httpStatus: 401 });
    const scope = challenge.params['scope'];
    if (scope !== undefined) for (const s of scope.split(' ')) if (s !== '') this.#scopes.add(s);
    this.#mode = { kind: 'bearer', realm, service: challenge.params['service'] };
  }

  /** Concurrent requests that find the token expired wait for one new token together. */
  #fetchToken(): Promise<IssuedToken> {
    return this.#tokenRequests.run(async () => {
      const mode = this.#mode;
      if (mode.kind !== 'bearer') throw new TypeError('no Bearer challenge seen');
      const url = new URL(mode.realm);
      if (mode.service !== undefined) url.searchParams.set('service', mode.service);
      for (const scope of this.#scopes) url.searchParams.append('scope', scope);
      const credentials = this.#credentials;
      const headers: OutgoingHttpHeaders = credentials === undefined ? {} : { authorization: basicAuthorization(credentials) };
      const issued = await this.retrying(async () => {
        const res = await this.#send('GET', url, headers, undefined, 'token request', undefined, undefined, true);
        if (res.statusCode !== 200) {
          const error = await unexpectedStatus(res, this.#where(), 'token realm');
          if (res.statusCode === 401 || res.statusCode === 403) {
            throw new RegistryError('refused', this.#where(), `token realm refused the credentials (${res.statusCode})`, { httpStatus: res.statusCode });
          }
          throw error;
        }
        const body = await this.readBody(res, TOKEN_BODY_LIMIT, 'read token');
        const token = body === undefined ? undefined : parseTokenResponse(body);
        if (token === undefined) throw new RegistryError('refused', this.#where(), 'token realm answered without a token');
        return token;
      });
      this.#token = issued;
      return issued;
    });
  }

  async #authorization(): Promise<string | undefined> {
    switch (this.#mode.kind) {
      case 'anonymous':
        return undefined;
      case 'basic':
        return this.#credentials === undefined ? undefined : basicAuthorization(this.#credentials);
      case 'bearer': {
        const token = this.#token !== undefined && this.#token.refreshAt > Date.now() ? this.#token : await this.#fetchToken();
        return `Bearer ${token.value}`;
      }
    }
  }

  /** After a 401: re-read credentials (they may have rotated), widen scopes, fetch a new token. */
  async #reauthenticate(header: string | undefined): Promise<void> {
    const challenge = parseChallenges(header ?? '');
    if (challenge !== undefined) this.#useChallenge(challenge);
    this.#credentials = await this.#options.credentials?.();
    this.#token = undefined;
    if (this.#mode.kind === 'bearer') await this.#fetchToken();
  }

  /** Reads a small body whole, or undefined past `limit`; a lost connection is a transient RegistryError, retried like any other. */
  async readBody(res: IncomingMessage, limit: number, what: string, repository?: string): Promise<Buffer | undefined> {
    try {
      return await readLimited(res, limit);
    } catch (error) {
      throw networkError(error, this.#where(repository), what);
    }
  }

  async #send(method: string, url: URL, headers: OutgoingHttpHeaders, body: Buffer | BodyWriter | undefined,
    what: string, repository?: string, signal: AbortSignal = this.#options.signal, small = false): Promise<IncomingMessage> {
    try {
      return await send({
        // Named, as registries and their operators expect of a client.
        method, url, headers: { 'user-agent': 'build-watcher', ...headers }, agents: this.#agents, idleTimeoutMs: this.#options.idleTimeoutMs, signal,
        ...(body === undefined ? {} : { body }), ...(small ? { deadlineMs: this.#options.smallExchangeDeadlineMs } : {}),
      });
    } catch (error) {
      throw networkError(error, this.#where(repository), what);
    }
  }

  /** A GET whose plain-200 body is read straight off its own connection (raw-body-get.ts says why); else the caller uses `request`. */

  async getBody(path: string, what: string, repository?: string): Promise<RawGetAnswer> {
    const url = new URL(path, this.origin);
    const authorization = await this.#authorization();
    try {
      return await rawGet({
        url, headers: { 'user-agent': 'build-watcher', ...(authorization === undefined ? {} : { authorization }) },
        connect: (onread) => this.#agents.connect(url, onread), idleTimeoutMs: this.#options.idleTimeoutMs, signal: this.#options.signal,
      });
    } catch (error) {
      throw networkError(error, this.#where(repository), what);
    }
  }

  /** One request, authenticated when it goes to this registry; no retries (see `retrying`). */
  async request(request: SessionRequest): Promise<IncomingMessage> {
    let url = new URL(request.path, this.origin);
    let redirects = 0;
    let reauthenticated = false;
    const replayable = request.body === undefined || Buffer.isBuffer(request.body);
    for (;;) {
      const own = url.origin === this.origin.origin;
      const headers: OutgoingHttpHeaders = { ...request.headers };
      const authorization = own ? await this.#authorization() : undefined;
      if (authorization !== undefined) headers['authorization'] = authorization;
      const res = await this.#send(request.method, url, headers, request.body, request.what, request.repository, request.signal, request.small === true);
      const status = res.statusCode ?? 0;
      if (status === 401 && own && replayable && !reauthenticated) {
        reauthenticated = true;
        discard(res);
        await this.#reauthenticate(res.headers['www-authenticate']);
        continue;
      }
      const location = res.headers.location;
      if (request.followRedirects === true && REDIRECTS.has(status) && location !== undefined) {
        discard(res);
        const next = new URL(location, url);
        const where = this.#where(request.repository);
        if (++redirects > MAX_REDIRECTS) throw new RegistryError('refused', where, `${request.what}: too many redirects`);
        if (next.protocol !== 'https:' && !(url.protocol === 'http:' && next.protocol === 'http:') && !isLoopbackHost(next.hostname)) {
          throw new RegistryError('refused', where, `${request.what}: redirect to an insecure location refused`);
        }
        url = next;
        continue;
      }
      return res;
    }
  }
}
