/**
 * The catch-up sweep: lists the watched kinds page by page, picks the objects a live event
 * would act on (the source kind's own prefilter), and feeds at most `batch` of them through
 * analyseObject with `workers` at a time. Claims and marks make it safe to overlap with live
 * events and with another sweep: nothing is submitted twice.
 *
 * Bounded: memory holds one page and the coordinates of at most `batch` picked objects;
 * Thoth sees at most `workers` submissions at once and `batch` objects per sweep. The next
 * sweep resumes naturally, because marked objects are no longer picked. Objects refused
 * (by Thoth, a registry, or as invalid) are not marked done, so the sweep marks them
 * `sweep-refused-at` and leaves them alone for REFUSAL_RETRY_MS: otherwise a batch-full of
 * refused objects would be picked first on every sweep and starve the rest.
 */
import { limitConcurrency } from '../concurrency.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { BuildWatcherError } from '../errors.js';
import { parseKubeObject, type KubeObject, type ObjectCoordinates } from '../events/intake.js';
import { isKubeStatus } from '../kube/api.js';
import type { ObjectPage } from '../kube/objects.js';
import type { Logger } from '../observability/logger.js';
import { analyseObject, type Outcome, type PipelineDeps } from '../pipeline/analyse.js';

export interface Collection {
  readonly apiVersion: string;
  readonly kind: string;
}

/** One page of a namespaced list (functions/kube/objects.ts `listPage` over the API). */
export interface PageLister {
  page(
    collection: Collection & { readonly namespace: string },
    options: { limit: number; continueToken?: string; signal?: AbortSignal },
  ): Promise<ObjectPage>;
}

export interface SweepOptions {
  readonly collections: readonly Collection[];
  readonly namespaces: readonly string[];
  /** BUILD_WATCHER_SWEEP_BATCH: objects analysed per sweep at most. */
  readonly batch: number;
  /** THOTH_BUILD_WATCHER_WORKERS. */
  readonly workers: number;
  readonly pageSize?: number;
  readonly refusalRetryMs?: number;
  /** After this many transient failures in a row (Thoth or the API down), stop early. */
  readonly maxConsecutiveFailures?: number;
  readonly signal?: AbortSignal;
  /**
   * No object is picked after this time (epoch ms); those in flight finish. A sweep delivered
   * by a Broker must answer within its delivery timeout; the next sweep goes on.
   */
  readonly pickUntil?: number;
  /** Called after every object analysed, for progress displays. */
  readonly onProgress?: (summary: SweepSummary) => void;
}

export type SweepOutcome = 'submitted' | 'skipped' | 'refused' | 'failed';

export interface KindCounts {
  listed: number;
  submitted: number;
  skipped: number;
  refused: number;
  failed: number;
}

export interface SweepSummary {
  readonly namespaces: readonly string[];
  /** Per kind: objects listed, and what became of them (skipped = nothing to do). */
  readonly kinds: Readonly<Record<string, Readonly<KindCounts>>>;
  /** Objects picked for analysis (at most the batch). */
  readonly picked: number;
  readonly submitted: number;
  readonly refused: number;
  readonly failed: number;
  /** False when the batch filled up or the sweep stopped early: the next sweep goes on. */
  readonly complete: boolean;
  /** Collections that could not be listed for good (CRD not installed, no RBAC). */
  readonly unavailable: readonly string[];
  /** Why the sweep stopped early, if it did. */
  readonly stoppedEarly?: string;
}

export const REFUSAL_RETRY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_PAGE_SIZE = 250;
const PAGE_ATTEMPTS = 3;
const LIST_RESTARTS = 2;

class Tally {
  readonly kinds: Record<string, KindCounts> = {};
  picked = 0;
  complete = true;
  stoppedEarly: string | undefined;
  readonly unavailable: string[] = [];

  constructor(
    readonly namespaces: readonly string[],
    private readonly onOutcome: (kind: string, outcome: SweepOutcome) => void,
  ) {}

  of(kind: string): KindCounts {
    return (this.kinds[kind] ??= { listed: 0, submitted: 0, skipped: 0, refused: 0, failed: 0 });
  }

  count(kind: string, outcome: SweepOutcome): void {
    this.of(kind)[outcome] += 1;
    this.onOutcome(kind, outcome);
  }

  summary(): SweepSummary {
    const total = (key: SweepOutcome) => Object.values(this.kinds).reduce((sum, counts) => sum + counts[key], 0);
    return {
      namespaces: this.namespaces,
      kinds: structuredClone(this.kinds),
      picked: this.picked,
      submitted: total('submitted'),
      refused: total('refused'),
      failed: total('failed'),
      complete: this.complete,
      unavailable: [...this.unavailable],
      ...(this.stoppedEarly !== undefined ? { stoppedEarly: this.stoppedEarly } : {}),
    };
  }
}

function recentlyRefused(object: KubeObject, now: number, retryMs: number): boolean {
  const at = Date.parse(object.annotations[ANNOTATIONS.sweepRefusedAt] ?? '');
  return Number.isFinite(at) && now - at < retryMs;
}

const message = (error: unknown) => (error instanceof Error ? error.message : 'unknown error');

export interface SweepDeps {
  readonly lister: PageLister;
  readonly pipeline: PipelineDeps;
  /** Counts each object's outcome (the sweepObjects metric). */
  readonly onOutcome?: (kind: string, outcome: SweepOutcome) => void;
  /** Sees every pipeline outcome (the submissions metric). */
  readonly onAnalysed?: (outcome: Outcome) => void;
}

export async function runSweep(deps: SweepDeps, options: SweepOptions): Promise<SweepSummary> {
  const log = deps.pipeline.log;
  const tally = new Tally(options.namespaces, deps.onOutcome ?? (() => {}));
  const cancelled = options.signal ?? new AbortController().signal;
  const limit = limitConcurrency(options.workers);
  // Tasks never throw: each counts its own failures.
  const tasks: Promise<void>[] = [];
  const maxFailures = options.maxConsecutiveFailures ?? Math.max(3, options.workers);
  const retryMs = options.refusalRetryMs ?? REFUSAL_RETRY_MS;
  let consecutiveFailures = 0;
  // Stopping early only stops picking: work in flight finishes, so nothing is left half done.
  const stopped = () => tally.stoppedEarly !== undefined;
  const stopEarly = (why: string) => {
    tally.stoppedEarly ??= why;
    tally.complete = false;
  };

  const analyse = async (ref: ObjectCoordinates): Promise<void> => {
    if (stopped()) return;
    const outcome = await analyseOne(ref, deps, options.signal);
    tally.count(ref.kind, outcome);
    consecutiveFailures = outcome === 'failed' ? consecutiveFailures + 1 : 0;
    if (consecutiveFailures >= maxFailures) stopEarly(`${consecutiveFailures} transient failures in a row`);
    options.onProgress?.(tally.summary());
  };

  const wanted = (object: KubeObject): boolean => {
    const source = deps.pipeline.sources.get(`${object.apiVersion}/${object.kind}`);
    if (source === undefined) return false;
    if (recentlyRefused(object, (deps.pipeline.now?.() ?? new Date()).getTime(), retryMs)) return false;
    try {
      return source.prefilter(object, 'update') === undefined;
    } catch {
      // Invalid as listed: the pipeline refuses it, and the refusal is remembered.
      return true;
    }
  };

  /** False stops the listing: the batch is full and one more object wants analysis. */
  const visit = (object: KubeObject): boolean => {
    if (stopped() || cancelled.aborted) return false;
    if (!wanted(object)) {
      tally.of(object.kind).listed += 1;
      tally.count(object.kind, 'skipped');
      return true;
    }
    if (tally.picked >= options.batch) {
      tally.complete = false;
      return false;
    }
    if (options.pickUntil !== undefined && Date.now() > options.pickUntil) {
      tally.complete = false;
      return false;
    }
    tally.of(object.kind).listed += 1;
    tally.picked += 1;
    const ref = coordinates(object);
    tasks.push(limit(() => analyse(ref)).catch(() => {}));
    return true;
  };

  outer: for (const namespace of options.namespaces) {
    for (const collection of options.collections) {
      if (stopped() || cancelled.aborted || !tally.complete) break outer;
      const where = `${collection.kind} in ${namespace}`;
      const listed = await listCollection(deps.lister, { ...collection, namespace }, options.pageSize ?? DEFAULT_PAGE_SIZE, cancelled, log, visit);
      if (listed === 'done') continue;
      if (listed.kind === 'unavailable') {
        tally.unavailable.push(`${where} (${listed.why})`);
        log.warn({ kind: collection.kind, namespace }, `sweep cannot list ${where}: ${listed.why}; skipped`);
      } else {
        tally.count(collection.kind, 'failed');
        stopEarly(`listing ${where} failed`);
        log.warn({ kind: collection.kind, namespace }, `sweep could not list ${where}: ${listed.why}`);
      }
    }
  }
  await Promise.all(tasks);
  if (cancelled.aborted) stopEarly('cancelled');
  return tally.summary();
}

async function analyseOne(ref: ObjectCoordinates, sweep: SweepDeps, signal: AbortSignal | undefined): Promise<SweepOutcome> {
  const deps = sweep.pipeline;
  const object = `${ref.kind} ${ref.namespace}/${ref.name}`;
  try {
    // Picked only when its sweep-refused-at mark is old: a refusal remembered in memory must not stop it.
    const outcome = await analyseObject({ ref, action: 'update', retryRefused: true }, deps, signal);
    sweep.onAnalysed?.(outcome);
    if (outcome.kind === 'submitted') return 'submitted';
    if (outcome.kind === 'ignored') return 'skipped';
    await rememberRefusal(ref, deps);
    return 'refused';
  } catch (error) {
    if (error instanceof BuildWatcherError && error.kind !== 'transient') {
      deps.log.warn({ object }, `sweep: ${error.kind}: ${error.message}`);
      await rememberRefusal(ref, deps);
      return 'refused';
    }
    deps.log.warn({ object }, `sweep: will be retried: ${message(error)}`);
    return 'failed';
  }
}

async function rememberRefusal(ref: ObjectCoordinates, deps: PipelineDeps): Promise<void> {
  const now = deps.now?.() ?? new Date();
  try {
    await deps.store.patchAnnotations(ref, { [ANNOTATIONS.sweepRefusedAt]: now.toISOString() });
  } catch {
    // Without patch rights the next sweep tries again; that is the only cost.
  }
}

/** Only the coordinates are kept while an object waits for a worker: a batch stays small. */
function coordinates(ref: ObjectCoordinates): ObjectCoordinates {
  return { apiVersion: ref.apiVersion, kind: ref.kind, namespace: ref.namespace, name: ref.name };
}

type ListResult = 'done' | { kind: 'unavailable' | 'failed'; why: string };

/**
 * Pages through one collection, handing every object to `visit` until it answers false (the
 * batch is full). A continue token that expired (410) restarts the list: objects handled
 * already are marked by then, or remembered in `seen`.
 */
async function listCollection(
  lister: PageLister,
  collection: Collection & { namespace: string },
  pageSize: number,
  signal: AbortSignal,
  log: Logger,
  visit: (object: KubeObject) => boolean,
): Promise<ListResult> {
  const seen = new Set<string>();
  for (let restart = 0; ; restart++) {
    let continueToken: string | undefined;
    try {
      do {
        const page = await pageWithRetry(lister, collection, { limit: pageSize, ...(continueToken !== undefined ? { continueToken } : {}), signal });
        for (const item of page.items) {
          const object = asObject(item, collection, log);
          if (object === undefined || seen.has(object.uid || object.name)) continue;
          seen.add(object.uid || object.name);
          if (!visit(object)) return 'done';
        }
        continueToken = page.continueToken === '' ? undefined : page.continueToken;
      } while (continueToken !== undefined && !signal.aborted);
      return 'done';
    } catch (error) {
      if (isKubeStatus(error, 410) && continueToken !== undefined && restart < LIST_RESTARTS) {
        log.info({ kind: collection.kind, namespace: collection.namespace }, 'list continuation expired; listing again');
        continue;
      }
      if (isKubeStatus(error, 404)) return { kind: 'unavailable', why: 'not served: is its CRD installed?' };
      if (isKubeStatus(error, 403)) return { kind: 'unavailable', why: 'forbidden: grant list on it (knative/optional/)' };
      return { kind: 'failed', why: message(error) };
    }
  }
}

async function pageWithRetry(
  lister: PageLister,
  collection: Collection & { namespace: string },
  options: { limit: number; continueToken?: string; signal: AbortSignal },
): Promise<ObjectPage> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lister.page(collection, options);
    } catch (error) {
      const transient = error instanceof BuildWatcherError && error.kind === 'transient';
      if (!transient || attempt >= PAGE_ATTEMPTS || options.signal.aborted) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/** List items carry no apiVersion/kind of their own; the list they came from gives them. */
function asObject(item: unknown, collection: Collection, log: Logger): KubeObject | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  try {
    return parseKubeObject({ ...item, apiVersion: collection.apiVersion, kind: collection.kind }, collection.kind);
  } catch (error) {
    log.debug({ kind: collection.kind }, `sweep skipped an unreadable list item: ${message(error)}`);
    return undefined;
  }
}
