/**
 * List, then watch from the list's resourceVersion, for one collection in one namespace, as long as the signal
 * allows: the informer pattern, written out so every way a watch ends is handled on purpose.
 * - The server closes the watch (its timeout, a restart, a proxy): resume at the last resourceVersion seen
 *   (bookmarks keep it fresh), losing nothing.
 * - 410 Gone / "too old resource version" (an HTTP 410 or an ERROR event): list again. Objects that changed
 *   meanwhile are in the new list; handling them again is harmless: the pipeline re-reads and marks every object.
 * - The connection fails: back off exponentially (with jitter, capped) and resume.
 * - 401, 403, 404: nothing will improve by retrying; the error is thrown to the caller.
 * - Every `resyncMs`, list again anyway (the watch's timeout ends it then): an object whose event came and went
 *   while it could not be handled is handed over once more.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectAction } from '../events/types.js';
import { isKubeStatus, type KubeConnection } from '../kube/api.js';
import { apiPath, isRecord, parseListItem, type KubeObject } from '../kube/object.js';
import { listObjects, type Collection, type PageLister } from '../kube/objects.js';
import type { Logger } from '../observability/logger.js';
import { backoffDelayMs } from '../retry.js';

export type WatchedCollection = Collection & { readonly namespace: string };

export interface WatchLoopOptions {
  readonly signal: AbortSignal;
  /** Server-side watch timeout, drawn afresh for each watch (client-go: 5–10 minutes). */
  readonly timeoutSeconds: () => number;
  readonly pageSize?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** List again this long after the last list; undefined: only when the server requires it. */
  readonly resyncMs?: number;
  /** Start by watching from here instead of listing (tests force a "too old" version this way). */
  readonly resourceVersion?: string;
}

export type ObjectHandler = (object: KubeObject, action: ObjectAction, origin: 'list' | 'watch') => void;

const FATAL = [401, 403, 404];
const MIN_HEALTHY_MS = 1000;

/** Thrown for answers that retrying cannot fix. */
export class WatchFatalError extends Error {
  override readonly name = 'WatchFatalError';
}

class TooOld extends Error {}

const RESYNC_SLACK_MS = 10_000;

function unreadable(collection: WatchedCollection, log: Logger): (error: unknown) => void {
  return (error) =>
    log.debug({ collection: `${collection.kind} in ${collection.namespace}` }, `skipped an unreadable ${collection.kind}: ${error instanceof Error ? error.message : 'unknown error'}`);
}

function asObject(value: unknown, collection: WatchedCollection, log: Logger): KubeObject | undefined {
  try {
    return parseListItem(value, collection);
  } catch (error) {
    unreadable(collection, log)(error);
    return undefined;
  }
}

function resourceVersionOf(value: unknown): string | undefined {
  const metadata = isRecord(value) ? value['metadata'] : undefined;
  const version = isRecord(metadata) ? metadata['resourceVersion'] : undefined;
  return typeof version === 'string' && version !== '' ? version : undefined;
}

async function listAll(lister: PageLister, collection: WatchedCollection, pageSize: number, signal: AbortSignal, handle: ObjectHandler, log: Logger): Promise<string> {
  const listed = await listObjects(lister, collection, { pageSize, signal, onUnreadable: unreadable(collection, log) }, (object) => {
    handle(object, 'add', 'list');
    return true;
  });
  return listed.resourceVersion;
}

export async function watchCollection(lister: PageLister, streaming: Pick<KubeConnection, 'stream'>, collection: WatchedCollection,
  handle: ObjectHandler, log: Logger, options: WatchLoopOptions): Promise<void> {
  const { signal } = options;
  const where = `${collection.kind} in ${collection.namespace}`;
  const path = apiPath(collection);
  let resourceVersion = options.resourceVersion;
  let listedAt = Date.now();
  let failures = 0;
  const { resyncMs } = options;
  // Slack, so a watch is never opened for a second or two just to reach the resync.
  const resyncDue = () => resyncMs !== undefined && Date.now() - listedAt >= resyncMs - Math.min(RESYNC_SLACK_MS, resyncMs / 10);
  const watchSeconds = () => {
    const drawn = options.timeoutSeconds();
    if (resyncMs === undefined) return drawn;
    return Math.max(1, Math.min(drawn, Math.ceil((listedAt + resyncMs - Date.now()) / 1000)));
  };
  const backoff = async (why: string) => {
    failures += 1;
    const delay = backoffDelayMs({ attempts: 1, baseDelayMs: options.initialBackoffMs ?? 500, maxDelayMs: options.maxBackoffMs ?? 30_000 }, failures);
    log.warn({ collection: where, attempt: failures }, `watch of ${where} interrupted (${why}); resuming in ${(delay / 1000).toFixed(1)} s`);
    await sleep(delay, undefined, { signal }).catch(() => {});
  };

  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined || resyncDue()) {
        if (resourceVersion !== undefined) log.debug({ collection: where }, `resync: listing ${where} again`);
        resourceVersion = await listAll(lister, collection, options.pageSize ?? 500, signal, handle, log);
        listedAt = Date.now();
        log.debug({ collection: where, resourceVersion }, `listed ${where}`);
      }
      const openedAt = Date.now();
      const timeoutSeconds = watchSeconds();
      const query = { watch: 'true', resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) };
      const lines = await streaming.stream(path, query, { signal, idleTimeoutMs: (timeoutSeconds + 30) * 1000 });
      log.debug({ collection: where, resourceVersion }, `watching ${where}`);
      let events = 0;
      for await (const line of lines) {
        if (line.trim() === '') continue;
        const event = JSON.parse(line) as { type?: unknown; object?: unknown };
        if (event.type === 'ERROR') {
          const code = isRecord(event.object) ? event.object['code'] : undefined;
          if (code === 410) throw new TooOld();
          throw new Error(`the watch reported an error (${typeof code === 'number' ? code : 'no code'})`);
        }
        events += 1;
        resourceVersion = resourceVersionOf(event.object) ?? resourceVersion;
        if (event.type === 'BOOKMARK') continue;
        const action: ObjectAction | undefined = event.type === 'ADDED' ? 'add' : event.type === 'MODIFIED' ? 'update' : event.type === 'DELETED' ? 'delete' : undefined;
        const object = action === undefined ? undefined : asObject(event.object, collection, log);
        if (action !== undefined && object !== undefined) handle(object, action, 'watch');
      }
      if (signal.aborted) return;
      if (events === 0 && Date.now() - openedAt < MIN_HEALTHY_MS) await backoff('the server closed it at once');
      else {

        failures = 0;
        log.debug({ collection: where, resourceVersion }, `the server ended the watch of ${where}; resuming`);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof TooOld || isKubeStatus(error, 410)) {
        log.info({ collection: where }, `resourceVersion ${resourceVersion ?? ''} of ${where} is too old; listing again`);
        resourceVersion = undefined;
        continue;
      }
      const status = FATAL.find((code) => isKubeStatus(error, code));
      if (status !== undefined) {
        throw new WatchFatalError(`cannot watch ${where}: ${error instanceof Error ? error.message : 'error'}${status === 404 ? ' (is its CRD installed?)' : ''}`);
      }
      await backoff(error instanceof Error ? error.message : 'unknown error');
    }
  }
}
