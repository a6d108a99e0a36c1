/**
 * Copies one image, or a whole multi-arch index, from one registry to another, keeping its
 * digest (OCI Distribution Spec v1.1, Docker token auth). Knows nothing of Kubernetes or Thoth.
 * Order: blobs (mounted within one registry, else HEAD-skipped or streamed), then child
 * manifests by digest, then the top manifest under the tag (or by digest without one).
 * Failures are RegistryErrors: kind 'transient' or 'refused'.
 */
import { setMaxListeners } from 'node:events';
import type { ImageReference } from '../domain/built-image.js';
import { isDigest, isRepositoryPath, isTag } from '../domain/image-reference.js';
import { invalid, type BuildWatcherError } from '../errors.js';
import { repositoryScope, type CredentialsProvider } from './auth.js';
import { copyBlob, type BlobOutcome, type BlobRoute, type BlobTally } from './blob-copy.js';
import { limitConcurrency } from '../concurrency.js';
import type { RegistryTlsOptions } from './http-transport.js';
import type { Descriptor } from './manifest.js';
import { fetchManifest, headManifest, pushManifest } from './manifest-transfer.js';
import type { FetchedManifest } from './manifest-transfer.js';
import { RegistryError } from './registry-error.js';
import { RegistrySession } from './registry-session.js';
import type { RetryPolicy } from '../retry.js';

/**
 * The first retries come quickly, and the waits add up to at least 11.9 s (at most 23.75 s) even
 * with the unluckiest jitter, so a registry that restarts within 10 s does not fail a copy. The
 * caller's signal (the delivery's 270 s deadline) bounds the copy as a whole.
 */
export const REGISTRY_RETRY: RetryPolicy = { attempts: 8, baseDelayMs: 250, maxDelayMs: 8_000 };

export type { CredentialsProvider } from './auth.js';
export type { RegistryTlsOptions } from './http-transport.js';
export { RegistryError } from './registry-error.js';

/** The part of the project's Logger the copier uses; fields never hold secrets. */
export interface CopyLogger {
  debug(fields: Readonly<Record<string, unknown>>, message: string): void;
  warn(fields: Readonly<Record<string, unknown>>, message: string): void;
}

export interface CopyImageOptions {
  /** Copied by digest when it has one, else by tag ('latest' without either). */
  readonly source: ImageReference;
  /** Its tag, if any, is set last; a digest, if given, must equal the source's. */
  readonly destination: ImageReference;
  readonly sourceAuth?: CredentialsProvider;
  readonly destinationAuth?: CredentialsProvider;
  readonly sourceTls?: RegistryTlsOptions;
  readonly destinationTls?: RegistryTlsOptions;
  /** Blob transfers at once (default 6); as many HEADs or mounts, which decide them, run ahead of them. */
  readonly concurrency?: number;
  /** Longest silence on a connection before a request fails (default 60 s). */
  readonly idleTimeoutMs?: number;
  /**
   * Longest a small exchange (version check, token, manifest, blob check) may take, its answer read whole (default 60 s: a
   * 4 MiB manifest at 0.6 Mbit/s). A registry that trickles bytes is never idle; this ends the exchange, as transient.
   */
  readonly smallExchangeDeadlineMs?: number;
  readonly retry?: RetryPolicy;
  readonly signal?: AbortSignal;
  readonly logger?: CopyLogger;
}

export interface CopyResult {
  /** The digest of the copied manifest or index: the source's, byte for byte. */
  readonly digest: string;
  readonly mediaType: string;
  readonly blobsCopied: number;
  /** Blobs found at the destination (not inside manifests found there); within one registry, mounted. */
  readonly blobsSkipped: number;
  readonly blobsMounted: number;
  readonly manifestsPushed: number;
  /** Blob bytes sent to the destination, retries included. */
  readonly bytesSent: number;
}

const MAX_INDEX_DEPTH = 4;
/**
 * Manifests one copy takes, the top one and every index's children together. A multi-arch image lists a few platforms (and as
 * many attestations); 256 is far above any real one, and below an index of thousands, each child a fetch and a push.
 */
export const MAX_MANIFESTS = 256;

function checkReference(reference: ImageReference, side: string): void {
  if (reference.registry === '' || /[/\s]/.test(reference.registry)) throw invalid(`${side} registry is not host[:port]`);
  if (!isRepositoryPath(reference.repository)) throw invalid(`${side} repository is malformed`);
  if (reference.tag !== undefined && !isTag(reference.tag)) throw invalid(`${side} tag is malformed`);
  if (reference.digest !== undefined && !isDigest(reference.digest)) throw invalid(`${side} digest is malformed`);
}

export async function copyImage(options: CopyImageOptions): Promise<CopyResult> {
  const { source, destination, logger } = options;
  const concurrency = options.concurrency ?? 6;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new TypeError(`expected concurrency to be an integer from 1 to 64, received ${concurrency}`);
  }
  checkReference(source, 'source');
  checkReference(destination, 'destination');

  // Our own controller stops sibling transfers as soon as one fails for good.
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  // Every request in flight listens on it; that is not a leak.
  setMaxListeners(0, signal);
  const sameRegistry = source.registry.toLowerCase() === destination.registry.toLowerCase();
  const mount = sameRegistry && source.repository !== destination.repository;
  const common = {
    maxSockets: 2 * concurrency + 2, idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    smallExchangeDeadlineMs: options.smallExchangeDeadlineMs ?? 60_000, retry: options.retry ?? REGISTRY_RETRY, signal,
    onRetry: (error: BuildWatcherError, attempt: number, delayMs: number) => logger?.warn(
      error instanceof RegistryError
        ? { registry: error.registry, repository: error.repository, status: error.httpStatus, attempt, delayMs, error: error.message }
        : { attempt, delayMs, error: error.message },
      'registry request failed; retrying'),
  };

  const sourceOpening = RegistrySession.open({ ...common, registry: source.registry, tls: options.sourceTls ?? {}, credentials: options.sourceAuth,
    scopes: [repositoryScope(source.repository, ['pull'])] });
  const destinationOpening = RegistrySession.open({ ...common, registry: destination.registry, tls: options.destinationTls ?? {},
    credentials: options.destinationAuth,
    scopes: [repositoryScope(destination.repository, ['pull', 'push']), ...(mount ? [repositoryScope(source.repository, ['pull'])] : [])] });
  // The source's manifest is read while the destination is still being opened.
  const topFetch = sourceOpening.then((session) => fetchManifest(session, source.repository, source.digest ?? source.tag ?? 'latest'));
  const [srcOpened, dstOpened, topFetched] = await Promise.allSettled([sourceOpening, destinationOpening, topFetch]);
  const src = srcOpened.status === 'fulfilled' ? srcOpened.value : undefined;
  const dst = dstOpened.status === 'fulfilled' ? dstOpened.value : undefined;
  try {
    for (const s of [srcOpened, dstOpened, topFetched]) if (s.status === 'rejected') throw s.reason;
    if (src === undefined || dst === undefined || topFetched.status !== 'fulfilled') throw new TypeError('unreachable');
    return await copyWithSessions(options, src, dst, topFetched.value, mount, concurrency, stop);
  } catch (error) {
    if (options.signal?.aborted === true) {
      throw new RegistryError('transient', { registry: destination.registry, repository: destination.repository }, 'copy aborted', { cause: error });
    }
    throw error;
  } finally {
    stop.abort();
    src?.close();
    dst?.close();
  }
}

async function copyWithSessions(options: CopyImageOptions, src: RegistrySession, dst: RegistrySession, top: FetchedManifest,
  mount: boolean, concurrency: number, stop: AbortController): Promise<CopyResult> {
  const { source, destination, logger } = options;
  const started = Date.now();
  const tally: BlobTally = { copied: 0, skipped: 0, mounted: 0, bytesSent: 0 };
  let manifestsPushed = 0;
  let manifestsListed = 1;
  const route: BlobRoute = {
    source: src, sourceRepository: source.repository, destination: dst, destinationRepository: destination.repository,
    mount, preferChunked: false,
  };
  const limits = { checks: limitConcurrency(concurrency), transfers: limitConcurrency(concurrency) };
  const blobs = new Map<string, Promise<BlobOutcome>>();
  const copyOnce = (blob: Descriptor): Promise<BlobOutcome> => {
    let pending = blobs.get(blob.digest);
    if (pending === undefined) {
      pending = copyBlob(route, blob, tally, limits);
      blobs.set(blob.digest, pending);
    }
    return pending;
  };
  // The first failure stops the others at once, and they are waited for so that their uploads'
  // cancels go out before the sessions' sockets close.
  const allOrStop = async <T>(tasks: Promise<T>[]): Promise<T[]> => {
    try {
      return await Promise.all(tasks);
    } catch (error) {
      stop.abort();
      await Promise.allSettled(tasks);
      throw error;
    }
  };

  const copyTree = async (manifest: FetchedManifest, reference: string, depth: number): Promise<void> => {
    if (manifest.parsed.kind === 'index') {
      if (depth >= MAX_INDEX_DEPTH) throw new RegistryError('refused', { registry: src.registry, repository: source.repository }, 'indexes nested too deep');
      manifestsListed += manifest.parsed.manifests.length;
      if (manifestsListed > MAX_MANIFESTS) {
        throw new RegistryError('refused', { registry: src.registry, repository: source.repository },
          `index ${reference} lists ${manifest.parsed.manifests.length} manifests; one copy takes at most ${MAX_MANIFESTS} in all`);
      }
      await allOrStop(manifest.parsed.manifests.map(async (child) => {
        if ((await headManifest(dst, destination.repository, child.digest)) === child.digest) return;
        const fetched = await fetchManifest(src, source.repository, child.digest);
        await copyTree(fetched, child.digest, depth + 1);
      }));
    } else {
      // Largest first: the biggest layer is the critical path, the small ones fill in around it.
      await allOrStop([...manifest.parsed.blobs].sort((a, b) => b.size - a.size).map(copyOnce));
    }
    await pushManifest(dst, destination.repository, reference, manifest);
    manifestsPushed += 1;
  };

  if (destination.digest !== undefined && destination.digest !== top.digest) throw invalid('destination digest differs from the source image digest');
  const reference = destination.tag ?? top.digest;
  // Both questions at once: is it there under the tag, and is it there at all.
  const [atReference, atDigest] = await Promise.all([
    headManifest(dst, destination.repository, reference),
    reference === top.digest ? undefined : headManifest(dst, destination.repository, top.digest),
  ]);
  if (atReference !== top.digest) {
    if (reference !== top.digest && atDigest === top.digest) {
      // The content is all there already (registries refuse manifests whose parts are missing): only tag it.
      await pushManifest(dst, destination.repository, reference, top);
      manifestsPushed += 1;
    } else {
      await copyTree(top, reference, 0);
    }
  }
  const result: CopyResult = {
    digest: top.digest, mediaType: top.parsed.mediaType,
    blobsCopied: tally.copied, blobsSkipped: tally.skipped, blobsMounted: tally.mounted,
    manifestsPushed, bytesSent: tally.bytesSent,
  };
  logger?.debug({ ...result, source: `${source.registry}/${source.repository}`, destination: `${destination.registry}/${destination.repository}`,
    ms: Date.now() - started }, 'image copied');
  return result;
}
