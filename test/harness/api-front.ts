import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, createServer, request } from 'node:https';
import type { Server } from 'node:https';
import { constants, createGunzip } from 'node:zlib';
import { buildLogAnswer } from './build-log-options.js';
import type { KubeHttp } from './kube-http.js';

/**
 * The address the product and the adapter are given instead of the API server's own. It forwards
 * every request verbatim (watches stream through) to kube-apiserver, except one:
 *
 * STAND-IN: `GET /apis/build.openshift.io/v1/namespaces/{ns}/builds/{name}/log`. OpenShift serves
 * this subresource; a plain kube-apiserver with a Build CRD cannot. Here the caller's token is
 * authenticated with a TokenReview and authorised with a SubjectAccessReview for `get
 * builds/log`, so RBAC still decides; the text is whatever the test gave `setBuildLog`, cut by `tailLines` and
 * `limitBytes` as OpenShift cuts it (build-log-options.ts).
 *
 * It also notes which watches each token has open, so the harness can tell when the adapter's
 * watches are really established (an object created earlier would be silently skipped).
 *
 * When kube-apiserver dies, every response streaming from it (watches included) is cut off at
 * once, and requests made while it is down are answered 503 at once: its clients see what they
 * would see behind a load balancer, and reconnect, instead of waiting on a silent stream.
 */
export interface ApiFront {
  readonly url: string;
  setBuildLog(namespace: string, name: string, text: string): void;
  /**
   * Watch paths (e.g. `/apis/build.openshift.io/v1/namespaces/ns/builds`) established with this
   * token since `sinceMs` and still open: one the server has already ended (a resourceVersion too
   * old after its restart) no longer counts.
   */
  establishedWatches(token: string, sinceMs: number): Set<string>;
  /** Every request made with this token, in order (`GET /apis/…`), for counting API calls. */
  callsWith(token: string): readonly string[];
  /** Holds the next `GET …/builds/{name}/log` of this Build, whoever sends it, until released. */
  holdNextBuildLog(namespace: string, name: string): Hold;
  /**
   * Every `PATCH` of this Build that `matches` has its connection reset before it reaches
   * kube-apiserver, as a cut network would, until `stop()`; other requests pass.
   */
  dropBuildPatches(namespace: string, name: string, matches: (patch: DroppablePatch) => boolean): PatchDrop;
  close(): Promise<void>;
}

/** A request stopped on its way, to be let through when the test says so. */
export interface Hold {
  /** Resolves once the request has arrived and is being held. */
  readonly caught: Promise<void>;
  /** Lets the held request through; before one is caught, lets the next one through unheld. */
  release(): void;
}

/** A PATCH on its way: its body, and the bearer token it was sent with. */
export interface DroppablePatch {
  readonly body: string;
  readonly token: string | undefined;
}

export interface PatchDrop {
  /** Patches reset so far. */
  dropped(): number;
  stop(): void;
}

export interface ApiFrontOptions {
  upstream: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  /** Admin client for TokenReview, SubjectAccessReview and reading Builds. */
  admin: KubeHttp;
}

const BUILD_LOG_PATH = /^\/apis\/build\.openshift\.io\/v1\/namespaces\/([^/]+)\/builds\/([^/]+)\/log$/;
const BUILD_PATH = /^\/apis\/build\.openshift\.io\/v1\/namespaces\/([^/]+)\/builds\/([^/]+)$/;

/** A Hold, and what its holder calls: `caught()` once the request is held; `released` settles on release(). */
export function makeHold(): { readonly hold: Hold; readonly caught: () => void; readonly released: Promise<void> } {
  let caught = (): void => undefined;
  let release = (): void => undefined;
  const caughtPromise = new Promise<void>((resolve) => (caught = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { hold: { caught: caughtPromise, release }, caught: () => caught(), released };
}

const INITIAL_EVENTS_END = 'k8s.io/initial-events-end';

interface WatchRecord {
  tokenHash: string;
  path: string;
  atMs: number;
  open: boolean;
}

export async function startApiFront(options: ApiFrontOptions): Promise<ApiFront> {
  const logs = new Map<string, string>();
  const logHolds = new Map<string, ReturnType<typeof makeHold>>();
  const patchDrops = new Map<string, { matches: (patch: DroppablePatch) => boolean; count: number }>();
  const watches: WatchRecord[] = [];
  const calls: { tokenHash: string; call: string }[] = [];
  const upstream = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true, ca: options.caPem });

  const server: Server = createServer({ cert: options.certPem, key: options.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://front.invalid');
    const caller = bearer(req);
    if (caller !== undefined && calls.length < 1_000_000) calls.push({ tokenHash: tokenHash(caller), call: `${req.method ?? ''} ${url.pathname}` });
    const log = BUILD_LOG_PATH.exec(url.pathname);
    if (log?.[1] !== undefined && log[2] !== undefined && req.method === 'GET') {
      const [namespace, name] = [decodeURIComponent(log[1]), decodeURIComponent(log[2])];
      const key = `${namespace}/${name}`;
      const hold = logHolds.get(key);
      logHolds.delete(key);
      hold?.caught();
      Promise.resolve(hold?.released)
        .then(() => serveBuildLog(req, res, options.admin, namespace, name, logs.get(key) ?? ''))
        .catch((err: unknown) => answer(res, 500, 'InternalError', err instanceof Error ? err.message : 'build log stand-in failed'));
      return;
    }
    const build = req.method === 'PATCH' ? BUILD_PATH.exec(url.pathname) : null;
    const drop = build?.[1] !== undefined && build[2] !== undefined ? patchDrops.get(`${decodeURIComponent(build[1])}/${decodeURIComponent(build[2])}`) : undefined;
    if (drop !== undefined) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (drop.matches({ body: body.toString('utf8'), token: bearer(req) })) {
          drop.count += 1;
          req.socket.destroy();
          return;
        }
        forward(req, res, url, upstream, agent, watches, body);
      });
      return;
    }
    forward(req, res, url, upstream, agent, watches);
  });
  server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 501 Not Implemented\r\n\r\n'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('API front has no TCP address');

  return {
    url: `https://127.0.0.1:${address.port}`,
    setBuildLog: (namespace, name, text) => logs.set(`${namespace}/${name}`, text),
    holdNextBuildLog(namespace, name) {
      const key = `${namespace}/${name}`;
      const pending = makeHold();
      logHolds.set(key, pending);
      return {
        caught: pending.hold.caught,
        release() {
          if (logHolds.get(key) === pending) logHolds.delete(key);
          pending.hold.release();
        },
      };
    },
    dropBuildPatches(namespace, name, matches) {
      const key = `${namespace}/${name}`;
      const drop = { matches, count: 0 };
      patchDrops.set(key, drop);
      return {
        dropped: () => drop.count,
        stop() {
          if (patchDrops.get(key) === drop) patchDrops.delete(key);
        },
      };
    },
    callsWith(token) {
      const hash = tokenHash(token);
      return calls.filter((entry) => entry.tokenHash === hash).map((entry) => entry.call);
    },
    establishedWatches(token, sinceMs) {
      const hash = tokenHash(token);
      return new Set(watches.filter((w) => w.tokenHash === hash && w.atMs >= sinceMs && w.open).map((w) => w.path));
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}

function forward(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  upstream: URL,
  agent: Agent,
  watches: WatchRecord[],
  /** The request's body, when it was read already; else it is streamed through. */
  body?: Buffer,
): void {
  const headers = { ...req.headers, host: upstream.host };
  delete headers.connection;
  const startedMs = Date.now();
  const outgoing = request(
    { protocol: 'https:', hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent },
    (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      const watching = isWatch(url) && upstreamRes.statusCode === 200;
      const token = bearer(req);
      if (watching && token !== undefined) {
        const entry: WatchRecord = { tokenHash: tokenHash(token), path: url.pathname, atMs: startedMs, open: true };
        res.once('close', () => (entry.open = false));
        const record = (): number => watches.push(entry);
        if (url.searchParams.get('sendInitialEvents') === 'true') {
          // A streaming list: only after this bookmark do new objects arrive as events.
          onceSeen(upstreamRes, INITIAL_EVENTS_END, record);
        } else {
          // List then watch: the list has been served, so the watch resumes from its version.
          record();
        }
      }
      // pipe() ends the client's response only on a complete one: cut off mid-stream (the API
      // server died), it would leave the client's open and silent, a watch for good.
      upstreamRes.once('close', () => {
        if (!upstreamRes.complete) res.destroy();
      });
      upstreamRes.on('error', () => res.destroy());
      upstreamRes.pipe(res);
    },
  );
  outgoing.on('error', () => {
    // Refused, or cut off before it answered: kube-apiserver is down.
    if (!res.headersSent) answer(res, 503, 'ServiceUnavailable', 'API front could not reach kube-apiserver');
    else res.destroy();
  });
  res.on('close', () => outgoing.destroy());
  if (body === undefined) req.pipe(outgoing);
  else outgoing.end(body);
}

/** Calls `then` once `marker` appears in the (possibly gzip-encoded) body, without consuming it. */
function onceSeen(res: IncomingMessage, marker: string, then: () => void): void {
  const gzipped = res.headers['content-encoding'] === 'gzip';
  const plain = gzipped ? createGunzip({ finishFlush: constants.Z_SYNC_FLUSH }) : undefined;
  let tail = '';
  let seen = false;
  const scan = (chunk: Buffer): void => {
    if (seen) return;
    const text = tail + chunk.toString('latin1');
    if (text.includes(marker)) {
      seen = true;
      then();
      plain?.destroy();
    }
    tail = text.slice(-marker.length);
  };
  if (plain) {
    plain.on('data', scan);
    plain.on('error', () => undefined);
    res.on('data', (chunk: Buffer) => {
      if (!seen && !plain.destroyed) plain.write(chunk);
    });
    res.on('close', () => plain.destroy());
  } else {
    res.on('data', scan);
  }
}

function isWatch(url: URL): boolean {
  const watch = url.searchParams.get('watch');
  return watch === 'true' || watch === '1';
}

function bearer(req: IncomingMessage): string | undefined {
  const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

async function serveBuildLog(
  req: IncomingMessage,
  res: ServerResponse,
  admin: KubeHttp,
  namespace: string,
  name: string,
  text: string,
): Promise<void> {
  const token = bearer(req);
  if (token === undefined) return answer(res, 401, 'Unauthorized', 'Unauthorized');
  const review = await admin.json({
    method: 'POST',
    path: '/apis/authentication.k8s.io/v1/tokenreviews',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
  });
  const user = authenticatedUser(review);
  if (user === undefined) return answer(res, 401, 'Unauthorized', 'Unauthorized');
  const access = await admin.json({
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        ...user,
        resourceAttributes: { namespace, verb: 'get', group: 'build.openshift.io', resource: 'builds', subresource: 'log', name },
      },
    },
  });
  if (!isAllowed(access)) {
    const who = typeof user.user === 'string' ? user.user : 'unknown';
    return answer(
      res,
      403,
      'Forbidden',
      `builds.build.openshift.io "${name}" is forbidden: User "${who}" cannot get resource "builds/log" in API group "build.openshift.io" in the namespace "${namespace}"`,
    );
  }
  const build = await admin.send({
    path: `/apis/build.openshift.io/v1/namespaces/${encodeURIComponent(namespace)}/builds/${encodeURIComponent(name)}`,
  });
  if (build.status === 404) return answer(res, 404, 'NotFound', `builds.build.openshift.io "${name}" not found`);
  if (build.status !== 200) return answer(res, 502, 'InternalError', `reading the build: ${build.status}`);
  const selected = buildLogAnswer(new URL(req.url ?? '/', 'https://front.invalid').searchParams, Buffer.from(text));
  if ('invalid' in selected) return answer(res, 400, 'BadRequest', selected.invalid);
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(selected);
}

interface ReviewedUser {
  user?: unknown;
  uid?: unknown;
  groups?: unknown;
  extra?: unknown;
}

function authenticatedUser(review: unknown): ReviewedUser | undefined {
  if (review === null || typeof review !== 'object' || !('status' in review)) return undefined;
  const status = review.status;
  if (status === null || typeof status !== 'object' || !('authenticated' in status) || status.authenticated !== true) {
    return undefined;
  }
  if (!('user' in status) || status.user === null || typeof status.user !== 'object') return undefined;
  const u = status.user;
  return {
    user: 'username' in u ? u.username : undefined,
    uid: 'uid' in u ? u.uid : undefined,
    groups: 'groups' in u ? u.groups : undefined,
    extra: 'extra' in u ? u.extra : undefined,
  };
}

function isAllowed(review: unknown): boolean {
  if (review === null || typeof review !== 'object' || !('status' in review)) return false;
  const status = review.status;
  return status !== null && typeof status === 'object' && 'allowed' in status && status.allowed === true;
}

function answer(res: ServerResponse, code: number, reason: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}
