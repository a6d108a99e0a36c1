/**
 * The catch-up sweep: lists the watched kinds page by page, picks what a live event would act on, and works on the
 * picked objects under the live events' worker limit. Claims and marks make overlapping with live events and other
 * sweeps safe.
 *
 * Bounded: memory holds one page and at most `batch` picked coordinates. With a hand-off (K_SINK, the Broker), the
 * first `batch` picked objects are worked on here and every further one is handed to the Broker, so recovery scales
 * out with the replicas; without one, the listing waits while `batch` objects are unfinished, and picking goes on
 * until `pickUntil`. The next sweep resumes because marked objects are no longer picked. An object under another
 * live claim is `busy` (not a failure; a later look takes it over once expired). Refused objects are marked
 * `sweep-refused-at` and left for a day (functions/ledger/), so they cannot starve the rest.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { asFailure, FRONT_POLICY } from '../errors.js';
import { isKubeStatus } from '../kube/api.js';
import { kindKey } from '../domain/kinds.js';
import { objectLabel, type KubeObject, type ObjectCoordinates } from '../kube/object.js';
import { listObjects, type Collection, type PageLister } from '../kube/objects.js';
import type { Logger } from '../observability/logger.js';
import type { AnalyzeOptions, PipelineDeps } from '../pipeline/analyze.js';
import { withRetries } from '../retry.js';
import { Lane } from '../concurrency.js';
import type { HandOff, Pending } from './hand-off.js';
import { analyzePicked } from './picked.js';
import { Tally, type SweepOutcome, type SweepSummary } from './tally.js';

export interface SweepOptions {
  readonly collections: readonly Collection[];
  /** The namespaces to list; undefined lists each collection across every namespace. */
  readonly namespaces: readonly (string | undefined)[];
  /** BUILD_WATCHER_SWEEP_BATCH: picked objects held here at once; with a hand-off, the sweep's own share. */
  readonly batch: number;
  readonly pageSize?: number;
  /** After this many transient failures in a row (Thoth or the API down), stop early. */
  readonly maxConsecutiveFailures?: number;
  readonly signal?: AbortSignal;
  /** Epoch ms after which nothing is picked: a Broker's sweep must answer within its delivery timeout. */
  readonly pickUntil?: number;
  readonly onProgress?: (summary: SweepSummary) => void;
}

const DEFAULT_PAGE_SIZE = 250;
/** Hand-off events sent at once: the Broker's ingress answers each in a few milliseconds. */
const HAND_OFF_SENDS = 16;
const PAGE_RETRY = { attempts: 3, baseDelayMs: 200, maxDelayMs: 2_000 };
/** A continue token that expired (410) restarts the list, twice at most, at once. */
const LIST_RESTARTS = { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 };

const message = (error: unknown) => (error instanceof Error ? error.message : 'unknown error');

export interface SweepDeps {
  readonly lister: PageLister;
  readonly pipeline: PipelineDeps;
  readonly onOutcome?: (kind: string, outcome: SweepOutcome) => void;
  /** Where image.built goes for what the sweep submits (its reply is a summary). */
  readonly announce?: AnalyzeOptions['announce'];
  /** Where picked objects beyond the own share go (functions/sweep/hand-off.ts); without it, all are worked on here. */
  readonly handOff?: HandOff;
}

export async function runSweep(deps: SweepDeps, options: SweepOptions): Promise<SweepSummary> {
  const log = deps.pipeline.log;
  const names = options.namespaces.map((namespace) => namespace ?? '*');
  const tally = new Tally(names, deps.onOutcome ?? (() => {}));
  const cancelled = options.signal ?? new AbortController().signal;
  // Picked objects worked on here (they queue for the pipeline's workers) and hand-offs in flight: each counts its own failures.
  const own = new Lane(options.batch);
  const handOffs = new Lane(HAND_OFF_SENDS);
  const maxFailures = options.maxConsecutiveFailures ?? 4;
  let consecutiveFailures = 0;
  // Stopping early only stops picking: work in flight finishes, so nothing is left half done.
  const stopped = () => tally.stoppedEarly !== undefined;
  const stopEarly = (why: string) => {
    tally.stoppedEarly ??= why;
    tally.complete = false;
  };

  const record = (kind: string, outcome: SweepOutcome): void => {
    tally.count(kind, outcome);
    if (outcome !== 'busy') consecutiveFailures = outcome === 'failed' ? consecutiveFailures + 1 : 0;
    if (consecutiveFailures >= maxFailures) stopEarly(`${consecutiveFailures} transient failures in a row`);
    options.onProgress?.(tally.summary());
  };
  const analyze = async (ref: ObjectCoordinates): Promise<void> => {
    if (stopped()) return;
    const outcome = await analyzeOne(ref, deps, options, () => !stopped());
    if (outcome !== 'not-wanted') record(ref.kind, outcome);
  };
  const handOff = async (send: HandOff, ref: Pending): Promise<void> => {
    try {
      await send(ref, cancelled);
      record(ref.kind, 'handed-off');
    } catch (error) {
      log.warn({ object: objectLabel(ref) }, `sweep: not handed to K_SINK, the next sweep picks it again: ${message(error)}`);
      record(ref.kind, 'failed');
    }
  };

  const wanted = (object: KubeObject): boolean => {
    const source = deps.pipeline.sources.get(kindKey(object));
    if (source === undefined) return false;
    if (deps.pipeline.ledger.isMarked(object) || deps.pipeline.ledger.sweepRefusedLately(object)) return false;
    try {
      return source.read(object).skipReason('update') === undefined;
    } catch {
      // Invalid as listed: the pipeline refuses it, and the refusal is remembered.
      return true;
    }
  };

  /**
   * False stops the listing: picking time is over, or the sweep stopped. Waits for a slot in its lane, so memory holds
   * `batch` picked coordinates here and HAND_OFF_SENDS on their way to the sink, not every picked object's.
   */
  const visit = async (object: KubeObject): Promise<boolean> => {
    if (stopped() || cancelled.aborted) return false;
    if (!wanted(object)) {
      tally.of(object.kind).listed += 1;
      tally.count(object.kind, 'skipped');
      return true;
    }
    const ref = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name };
    const send = tally.picked < options.batch ? undefined : deps.handOff;
    const lane = send === undefined ? own : handOffs;
    await lane.acquire();
    const pickingOver = options.pickUntil !== undefined && Date.now() > options.pickUntil;
    if (stopped() || cancelled.aborted || pickingOver) {
      lane.release();
      if (pickingOver) tally.complete = false;
      return false;
    }
    tally.of(object.kind).listed += 1;
    tally.picked += 1;
    const pending = { ...ref, uid: object.uid, resourceVersion: object.resourceVersion };
    lane.spawn(send === undefined ? () => analyze(ref) : () => handOff(send, pending));
    return true;
  };

  outer: for (const namespace of options.namespaces) {
    for (const collection of options.collections) {
      if (stopped() || cancelled.aborted || !tally.complete) break outer;
      const where = `${collection.kind} in ${namespace ?? 'every namespace'}`;
      const scoped = namespace === undefined ? collection : { ...collection, namespace };
      const listed = await listCollection(deps.lister, scoped, options.pageSize ?? DEFAULT_PAGE_SIZE, cancelled, log, visit);
      if (listed === 'done') continue;
      if (listed.kind === 'unavailable') {
        tally.unavailable.push(`${where} (${listed.why})`);
        log.warn({ kind: collection.kind, namespace: namespace ?? '*' }, `sweep cannot list ${where}: ${listed.why}; skipped`);
      } else {
        tally.listingFailed = true;
        stopEarly(`listing ${where} failed`);
        log.warn({ kind: collection.kind, namespace: namespace ?? '*' }, `sweep could not list ${where}: ${listed.why}`);
      }
    }
  }
  await Promise.all([own.drain(), handOffs.drain()]);
  if (cancelled.aborted) stopEarly('cancelled');
  return tally.summary();
}

async function analyzeOne(ref: ObjectCoordinates, sweep: SweepDeps, options: SweepOptions, stillWanted: () => boolean): Promise<SweepOutcome | 'not-wanted'> {
  const deps = sweep.pipeline;
  const { signal } = options;
  const object = objectLabel(ref);
  const analyze = () => analyzePicked(ref, deps, { priority: 'background', ...(signal ? { signal } : {}), stillWanted, ...(sweep.announce ? { announce: sweep.announce } : {}) });
  try {
    let outcome = await analyze();
    // A claim is timed from when this process first saw it: one this sweep met for the first
    // time, whose holder may be dead, is looked at again once a lease has passed, if the sweep
    // is still picking by then. So a dead holder's object waits one lease, not one more sweep.
    if (outcome.kind === 'busy' && options.pickUntil !== undefined && outcome.until.getTime() < options.pickUntil) {
      if (await waitUntil(outcome.until, signal)) outcome = await analyze();
    }
    if (outcome.kind === 'ignored' && outcome.reason === 'not-wanted') return 'not-wanted';
    if (outcome.kind === 'submitted') return 'submitted';
    if (outcome.kind === 'ignored') return 'skipped';
    if (outcome.kind === 'busy') return 'busy';
    return 'refused';
  } catch (error) {
    const failure = asFailure(error);
    if (FRONT_POLICY[failure.kind].retry) {
      deps.log.warn({ object }, `sweep: will be retried: ${message(error)}`);
      return 'failed';
    }
    deps.log.warn({ object }, `sweep: ${failure.kind}: ${failure.message}`);
    return 'refused';
  }
}

/** Waits until `time` (wall clock, a moment away); false when cancelled first. */
async function waitUntil(time: Date, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await sleep(Math.max(0, time.getTime() - Date.now()) + 1, undefined, signal ? { signal } : {});
    return true;
  } catch {
    return false;
  }
}

type ListResult = 'done' | { kind: 'unavailable' | 'failed'; why: string };

/**
 * Lists one collection, handing every object to `visit` until it answers false. A continue
 * token that expired (410) restarts the list: objects handled already are marked by then, or
 * remembered in `seen`.
 */
async function listCollection(lister: PageLister, collection: Collection, pageSize: number, signal: AbortSignal, log: Logger,
  visit: (object: KubeObject) => Promise<boolean>): Promise<ListResult> {
  const seen = new Set<string>();
  const retrying: PageLister = { page: (c, o) => withRetries(PAGE_RETRY, () => lister.page(c, o), { signal }) };
  const list = () =>
    listObjects(retrying, collection, { pageSize, signal, onUnreadable: (error) => log.debug({ kind: collection.kind }, `sweep skipped an unreadable list item: ${message(error)}`) }, (object) => {
      const id = object.uid || `${object.namespace}/${object.name}`;
      if (seen.has(id)) return true;
      seen.add(id);
      return visit(object);
    });
  try {
    await withRetries(LIST_RESTARTS, list, {
      signal,
      retryable: (error) => isKubeStatus(error, 410),
      onRetry: () => log.info({ kind: collection.kind, namespace: collection.namespace ?? '*' }, 'list continuation expired; listing again'),
    });
    return 'done';
  } catch (error) {
    if (isKubeStatus(error, 404)) return { kind: 'unavailable', why: 'not served: is its CRD installed?' };
    if (isKubeStatus(error, 403)) return { kind: 'unavailable', why: 'forbidden: grant list on it (knative/optional/)' };
    return { kind: 'failed', why: message(error) };
  }
}
