/**
 * Copies one blob: mount it within one registry; else HEAD-skip it if present; otherwise stream
 * it, hashed as it flows, into one PUT (or 16 MiB PATCHes and an empty PUT where the registry
 * refuses that). Each attempt starts a new upload session; the abandoned one is cancelled.
 */
import type { IncomingMessage } from 'node:http';
import type { Limiter } from '../concurrency.js';
import { readableBody, type BlobBody } from './blob-body.js';
import { BlobPump } from './blob-pump.js';
import { discard } from './http-transport.js';
import type { Descriptor } from './manifest.js';
import { networkError, RegistryError, unexpectedStatus, type RegistryLocation } from './registry-error.js';
import type { RegistrySession } from './registry-session.js';

export interface BlobRoute {
  readonly source: RegistrySession;
  readonly sourceRepository: string;
  readonly destination: RegistrySession;
  readonly destinationRepository: string;
  /** Both sides are one registry; cleared when the destination credentials may not read the source. */
  mount: boolean;
  /** Set once the destination refuses monolithic PUTs, so later blobs go straight to PATCH. */
  preferChunked: boolean;
}

export interface BlobTally {
  copied: number;
  skipped: number;
  mounted: number;
  bytesSent: number;
}

export type BlobOutcome = 'copied' | 'skipped' | 'mounted';

/** Monolithic PUT refused in a way that says "upload in chunks instead". */
const CHUNKED_ONLY = new Set([405, 413, 501]);
/** PATCH size in chunked uploads: few requests per layer, yet under common request-size limits. */
const CHUNK_BYTES = 16 * 1024 * 1024;
/** A cancel has a signal of its own: the copy's is aborted once a sibling failed, and the registry should still hear. */
const CANCEL_TIMEOUT_MS = 5_000;
/** Blobs from this size are read off a socket of their own, outside node:http (raw-body-get.ts). */
const RAW_BODY_MIN_BYTES = 1024 * 1024;

const short = (digest: string): string => digest.slice(0, digest.indexOf(':') + 13);

function withDigest(location: URL, digest: string): string {
  return `${location.href}${location.search === '' ? '?' : '&'}digest=${encodeURIComponent(digest)}`;
}

function uploadLocation(res: IncomingMessage, base: URL): URL | undefined {
  const location = res.headers.location;
  return location === undefined ? undefined : new URL(location, base);
}

export interface BlobLimits {
  /** Cheap requests that settle whether a blob must move at all: a HEAD, or a mount. */
  readonly checks: Limiter;
  /** Transfers: a source GET streaming into an upload. */
  readonly transfers: Limiter;
}

/** Checks run ahead under a limit of their own, so a transfer slot never waits on a round trip deciding it. */
export async function copyBlob(route: BlobRoute, blob: Descriptor, tally: BlobTally, limits: BlobLimits): Promise<BlobOutcome> {
  const outcome = await route.destination.retrying(async () => {
    const checked = await limits.checks(() => check(route, blob));
    if (checked === 'skipped' || checked === 'mounted') return checked;
    return limits.transfers(() => transfer(route, blob, tally, checked));
  });
  tally[outcome] += 1;
  return outcome;
}

/** 'skipped' (HEAD found it), 'mounted', 'absent', or the upload session a refused mount opened. */
async function check(route: BlobRoute, blob: Descriptor): Promise<'skipped' | 'mounted' | 'absent' | URL> {
  const dst = route.destination;
  const repository = route.destinationRepository;
  const where = { registry: dst.registry, repository };
  // A mount answers "already there" by itself (counted as mounted), in one request instead of two.
  if (!route.mount) {
    const path = `/v2/${repository}/blobs/${blob.digest}`;
    const head = await dst.request({ method: 'HEAD', path, what: 'check blob', repository, followRedirects: true, small: true });
    discard(head);
    if (head.statusCode === 200) return 'skipped';
    if (head.statusCode !== 404) throw await unexpectedStatus(head, where, `check blob ${short(blob.digest)}`);
    return 'absent';
  }
  const mounted = await postUpload(dst, repository, `?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(route.sourceRepository)}`);
  if (mounted.statusCode === 201) {
    discard(mounted);
    return 'mounted';
  }
  if (mounted.statusCode === 401 || mounted.statusCode === 403) {
    // A mount needs pull access to the source repository as well; without it, upload instead.
    discard(mounted);
    route.mount = false;
    return 'absent';
  }
  return uploadStarted(mounted, dst, where);
}

async function uploadStarted(res: IncomingMessage, dst: RegistrySession, where: RegistryLocation): Promise<URL> {
  const location = uploadLocation(res, dst.origin);
  if (res.statusCode !== 202 || location === undefined) throw await unexpectedStatus(res, where, 'start upload');
  discard(res);
  return location;
}

function postUpload(dst: RegistrySession, repository: string, query = ''): Promise<IncomingMessage> {
  const path = `/v2/${repository}/blobs/uploads/${query}`;
  return dst.request({ method: 'POST', path, what: 'start upload', repository, headers: { 'content-length': '0' } });
}

async function startUpload(dst: RegistrySession, repository: string): Promise<URL> {
  return uploadStarted(await postUpload(dst, repository), dst, { registry: dst.registry, repository });
}

async function transfer(route: BlobRoute, blob: Descriptor, tally: BlobTally, session: 'absent' | URL): Promise<BlobOutcome> {
  const dst = route.destination;
  const repository = route.destinationRepository;
  // Independent of each other: both at once saves a round trip per blob.
  const [opened, started] = await Promise.allSettled([
    openSource(route, blob),
    session === 'absent' ? startUpload(dst, repository) : Promise.resolve(session),
  ]);
  if (started.status === 'rejected') {
    if (opened.status === 'fulfilled') opened.value.destroy();
    throw started.reason;
  }
  const location = started.value;
  if (opened.status === 'rejected') {
    await cancelUpload(dst, location, repository);
    throw opened.reason;
  }
  // Blobs upload side by side: whether this one went in chunks is its own, not the route's now.
  const chunked = route.preferChunked;
  try {
    await upload(route, blob, opened.value, location, chunked, tally);
    return 'copied';
  } catch (error) {
    await cancelUpload(dst, location, repository);
    if (error instanceof RegistryError && error.httpStatus !== undefined && CHUNKED_ONLY.has(error.httpStatus) && !chunked) {
      route.preferChunked = true;
      return transfer(route, blob, tally, 'absent');
    }
    throw error;
  }
}

/** Opens the source blob, ready to be pumped into upload requests, failing unless its bytes match the descriptor. */
async function openSource(route: BlobRoute, blob: Descriptor): Promise<BlobPump> {
  const repository = route.sourceRepository;
  const where = { registry: route.source.registry, repository };
  const what = `blob ${short(blob.digest)}`;
  const path = `/v2/${repository}/blobs/${blob.digest}`;
  // A raw read has a connection (and TLS handshake) of its own: worth it for big blobs only.
  const raw = blob.size >= RAW_BODY_MIN_BYTES ? await route.source.getBody(path, `fetch ${what}`, repository) : undefined;
  let body: BlobBody;
  let declared: string | undefined;
  if (raw?.kind === 'body') {
    body = raw.body;
    declared = String(raw.contentLength);
  } else {
    // Redirected, asked to authenticate again, or anything else: node:http handles it all.
    const res = await route.source.request({ method: 'GET', path, what: `fetch ${what}`, repository, followRedirects: true });
    if (res.statusCode !== 200) throw await unexpectedStatus(res, where, `fetch ${what}`);
    body = readableBody(res);
    declared = res.headers['content-length'];
  }
  if (declared !== undefined && Number(declared) !== blob.size) {
    body.destroy();
    throw new RegistryError('refused', where, `${what} has ${declared} bytes, its descriptor says ${blob.size}`);
  }
  return new BlobPump(body, blob.digest, blob.size, (why) => {
    if (why instanceof Error) return networkError(why, where, `read ${what}`);
    return why === 'too-short'
      ? new RegistryError('transient', where, `${what} ended early`)
      : new RegistryError('refused', where, `${what} does not match its digest (corrupt content)`);
  });
}

async function upload(route: BlobRoute, blob: Descriptor, pump: BlobPump, location: URL, inChunks: boolean, tally: BlobTally): Promise<void> {
  const dst = route.destination;
  const repository = route.destinationRepository;
  const where = { registry: dst.registry, repository };
  const what = `upload blob ${short(blob.digest)}`;
  const chunked = inChunks && blob.size > 0;
  let commit = location;
  try {
    if (chunked) {
      for (let start = 0; start < blob.size; start += CHUNK_BYTES) {
        const length = Math.min(CHUNK_BYTES, blob.size - start);
        const patched = await dst.request({
          method: 'PATCH', path: commit.href, what, repository, body: pump.bodyOf(length),
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(length), 'content-range': `${start}-${start + length - 1}` },
        });
        const next = uploadLocation(patched, commit);
        if (patched.statusCode !== 202 || next === undefined) throw await failed(patched);
        discard(patched);
        commit = next;
      }
    }
    const put = await dst.request({
      method: 'PUT', path: withDigest(commit, blob.digest), what, repository,
      headers: { 'content-type': 'application/octet-stream', 'content-length': chunked ? '0' : String(blob.size) },
      ...(chunked ? {} : { body: pump.bodyOf(blob.size) }),
    });
    if (put.statusCode !== 201) throw await failed(put);
    discard(put);
    const stored = put.headers['docker-content-digest'];
    if (typeof stored === 'string' && stored !== blob.digest) {
      throw new RegistryError('refused', where, `${what}: registry stored it under another digest`);
    }
  } finally {
    tally.bytesSent += pump.bytesOut;
    pump.destroy();
  }

  async function failed(res: IncomingMessage): Promise<RegistryError> {
    // The registry answered before taking the whole body: stop sending and drop the connection.
    pump.destroy();
    const error = await unexpectedStatus(res, where, what);
    res.destroy();
    return error;
  }
}

async function cancelUpload(dst: RegistrySession, location: URL, repository: string): Promise<void> {
  try {
    const signal = AbortSignal.timeout(CANCEL_TIMEOUT_MS);
    discard(await dst.request({ method: 'DELETE', path: location.href, what: 'cancel upload', repository, signal }));
  } catch {
    // Best effort: registries purge abandoned uploads themselves.
  }
}
