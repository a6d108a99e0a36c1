/**
 * One object, start to finish, for the function, the sweep and the command line:
 * read → admit → limit → open, the plan beside the claim → push → submit → close, the Events beside the announcement and the mark → count.
 * Overlapped only where neither waits for the other: the plan only reads, and the Events say what Thoth accepted.
 * Exactly once is the ledger's (functions/ledger/): it admits, claims with a fenced lease, and marks done only
 * while the claim is still ours. Without patch rights the work goes on unclaimed and unmarked (Thoth's cache).
 */
import type { Limiter, Priority } from '../concurrency.js';
import type { BuiltImage } from '../domain/built-image.js';
import { invalid } from '../errors.js';
import type { ObjectAction } from '../events/types.js';
import type { EventReason } from '../kube/events.js';
import { kindKey } from '../domain/kinds.js';
import { objectKey, objectLabel, sourceRef, type KubeObject, type ObjectCoordinates } from '../kube/object.js';
import type { EventRecorder, ObjectStore } from '../kube/store.js';
import type { Entry } from '../ledger/entry.js';
import type { Ledger, Opened } from '../ledger/ledger.js';
import type { Logger } from '../observability/logger.js';
import { resubmissions } from '../observability/metrics.js';
import type { AnalysisOptions } from '../thoth/requests.js';
import { countSubmission, type Outcome } from './outcome.js';
import type { Submitter } from './ports.js';
import type { PushPolicy } from './push.js';
import { announceBuilt, tell, type ReportDeps } from './report.js';
import type { Plan, PlanContext, SourceKind, SourceObject } from './source-kind.js';
import { submitImages } from './submit-images.js';

/** A delivery that has no worker by this share of its deadline answers 503: the rest is the work's. */
const QUEUE_SHARE_OF_DEADLINE = 0.5;

export interface PipelineDeps {
  readonly store: ObjectStore;
  readonly recorder: EventRecorder;
  /** Undefined when THOTH_USER_API_HOST is empty. */
  readonly submitter?: Submitter;
  readonly push?: PushPolicy;
  /** Keyed by `apiVersion/kind`. */
  readonly sources: ReadonlyMap<string, SourceKind>;
  /** environment type, debug, force; `origin` empty = the object's namespace. */
  readonly analysisOptions: AnalysisOptions;
  readonly ledger: Ledger<Outcome>;
  readonly log: Logger;
  /** THOTH_BUILD_WATCHER_WORKERS and BUILD_WATCHER_QUEUE_LIMIT, shared by events and sweeps: ignored events never take a slot. */
  readonly limit: Limiter;
}

export interface AnalyzeInput {
  /** The object from a Resource-mode event, if there was one. */
  readonly payload?: KubeObject;
  readonly ref: ObjectCoordinates;
  readonly action: ObjectAction;
  /** The sweep sets this: objects refused lately are tried again. */
  readonly retryRefused?: boolean;
}

export interface AnalyzeOptions {
  readonly signal?: AbortSignal;
  /**
   * From when the object is found worth working on: queueing for a worker included, so the answer comes in time.
   * A delivery still queued at QUEUE_SHARE_OF_DEADLINE of it is turned away (503).
   */
  readonly deadlineMs?: number;
  /** `background` (the sweep's objects) waits behind every live delivery; default `live`. */
  readonly priority?: Priority;
  /** Asked when a worker is free: false drops the object unstarted (a sweep that stopped early). */
  readonly stillWanted?: () => boolean;
  /** Where image.built goes, when the front's own reply does not carry it. */
  readonly announce?: ReportDeps['announce'];
}

export async function analyzeObject(input: AnalyzeInput, deps: PipelineDeps, options: AnalyzeOptions = {}): Promise<Outcome> {
  const ignored = (reason: string): Outcome => ({ kind: 'ignored', reason, object: input.ref });
  // read: the event's object, parsed once
  const source = deps.sources.get(kindKey(input.ref));
  if (source === undefined) return ignored('kind-not-enabled');
  const payload = input.payload === undefined ? undefined : source.read(input.payload);
  if (payload === undefined && input.action === 'delete') return ignored('deleted');
  if (payload === undefined && deps.ledger.readOnly) throw invalid('BUILD_WATCHER_TRUST_EVENT_PAYLOAD needs Resource-mode events: a reference carries no object', 422);
  // admit
  const key = objectKey(input.ref);
  const skip = payload === undefined ? undefined : (deps.ledger.admit(key, payload.object, input) ?? payload.skipReason(input.action));
  if (skip !== undefined) return ignored(skip);
  const running = deps.ledger.running(key);
  // Waits without a worker slot, for the outcome of the work already under way here.
  if (running !== undefined) return (await running.join(options.signal, (outcome) => outcome.kind === 'submitted')) ?? ignored('in-progress');
  // limit, then the rest under the object's entry in the ledger
  const deadline = new AbortController();
  const queued = [options.signal];
  if (options.deadlineMs !== undefined) {
    setTimeout(() => deadline.abort(), options.deadlineMs).unref();
    queued.push(AbortSignal.timeout(options.deadlineMs * QUEUE_SHARE_OF_DEADLINE));
  }
  const present = (signals: (AbortSignal | undefined)[]) => AbortSignal.any(signals.filter((signal) => signal !== undefined));
  const work = deps.limit(async () => {
    if (options.stillWanted?.() === false) return ignored('not-wanted');
    return openAndRun(input, payload, source, deps, present([options.signal, deadline.signal]), options.announce);
  }, { priority: options.priority ?? 'live', signal: present(queued) });
  return deps.ledger.track(key, work).answer(AbortSignal.any([deadline.signal, ...(options.signal ? [options.signal] : [])]));
}

async function openAndRun(input: AnalyzeInput, payload: SourceObject | undefined, source: SourceKind, deps: PipelineDeps, signal: AbortSignal, announce: AnalyzeOptions['announce']): Promise<Outcome> {
  const { ledger } = deps;
  // open: read live, claim (or resume our claim), or find it busy, done or gone. The plan only reads (the log, an
  // ImageStream): it runs while the claim is written, and is used only for the very object claimed.
  let ahead: PlannedAhead | undefined;
  const claiming = (object: KubeObject) => {
    ahead?.abandon.abort();
    ahead = planAhead(source.read(object), input.action, deps, signal);
  };
  let opened: Opened | undefined;
  try {
    opened = await ledger.open(objectKey(input.ref), input.ref, { ...(payload !== undefined ? { uid: payload.object.uid, payload: payload.object } : {}), claiming }, signal);
  } finally {
    if (opened?.kind !== 'open') ahead?.abandon.abort();
  }
  if (opened.kind === 'busy') return { kind: 'busy', object: input.ref, until: opened.until };
  if (opened.kind === 'ignored') return { kind: 'ignored', reason: opened.reason, object: input.ref };
  const { entry } = opened;
  if (!entry.claimed && !ledger.readOnly && ledger.firstNoPatchWarning()) {
    deps.log.warn({ object: objectLabel(input.ref) }, "not allowed to patch annotations: objects will not be marked, duplicates are left to Thoth's cache");
  }
  // A claim left by a holder that died: it may have submitted before it could mark.
  if (entry.takeover) resubmissions.inc({ kind: input.ref.kind });
  const notes: EventReason[] = [];
  const reportDeps: ReportDeps = { recorder: deps.recorder, log: deps.log, analyzer: deps.submitter !== undefined, announce };
  let told = false;
  try {
    const live = ledger.readOnly && payload !== undefined ? payload : source.read(entry.object);
    const planned = ahead?.object === entry.object ? ahead : undefined;
    const work = AbortSignal.any([signal, ...(entry.lapsed ? [entry.lapsed] : [])]);
    const plan = planned !== undefined ? await planned.plan.then((done) => (notes.push(...done.warnings), done.plan))
      : await live.plan(input.action, planContext(deps, work, (event) => notes.push(event)));
    const { outcome, close } = await run(input, live, plan, entry, deps, notes, work);
    // The Events say what Thoth accepted: they are posted while it is announced and marked, and the answer waits for both.
    told = true;
    const telling = tell(reportDeps, entry.object, notes, outcome);
    try {
      // Announced before the mark: a holder that dies in between leaves the object unmarked, and the next holder
      // announces the same fact again, under the same id, rather than never.
      await announceBuilt(reportDeps, outcome);
      await close?.();
    } finally {
      await telling;
    }
    // Once the outcome is final (a submission marked).
    countSubmission(outcome);
    return outcome;
  } catch (error) {
    entry.leave();
    if (!told) await tell(reportDeps, entry.object, notes);
    throw error;
  }
}

interface PlannedAhead {
  readonly object: KubeObject;
  readonly plan: Promise<{ readonly plan: Plan; readonly warnings: readonly EventReason[] }>;
  /** Ends the plan's reads when its object is not the one claimed. */
  readonly abandon: AbortController;
}

function planAhead(live: SourceObject, action: ObjectAction, deps: PipelineDeps, signal: AbortSignal): PlannedAhead {
  const abandon = new AbortController();
  const warnings: EventReason[] = [];
  const plan = live.plan(action, planContext(deps, AbortSignal.any([signal, abandon.signal]), (event) => warnings.push(event))).then((done) => ({ plan: done, warnings }));
  plan.catch(() => undefined);
  return { object: live.object, plan, abandon };
}

function planContext(deps: PipelineDeps, signal: AbortSignal, note: (event: EventReason) => void): PlanContext {
  return { store: deps.store, log: deps.log, signal, warn: (message) => note({ type: 'Warning', reason: 'AnalysisWarning', message }) };
}

/** push → submit → close; a submission's close (the mark) is left to the caller, to run beside its Events. */
async function run({ ref: asked }: AnalyzeInput, live: SourceObject, plan: Plan, entry: Entry, deps: PipelineDeps, notes: EventReason[],
  signal: AbortSignal): Promise<{ readonly outcome: Outcome; readonly close?: () => Promise<void> }> {
  const { ledger } = deps;
  const object = live.object;
  if (plan.kind === 'ignore') {
    await entry.release();
    return { outcome: { kind: 'ignored', reason: plan.reason, object: asked } };
  }
  const now = ledger.now();
  // From the object as planned: what the marks record changes only under the claim, which is ours.
  const marksOf = (submitted: Parameters<SourceObject['marks']>[0], refused: readonly BuiltImage[]) => () => live.marks(submitted, now, refused);
  if (plan.kind === 'mark') {
    await entry.close(marksOf([], []), { submitted: false, signal });
    return { outcome: { kind: 'ignored', reason: plan.reason, object: asked } };
  }
  const origin = deps.analysisOptions.origin === undefined || deps.analysisOptions.origin === '' ? object.namespace : deps.analysisOptions.origin;
  const result = await submitImages(plan.images, { submitter: deps.submitter, push: deps.push, options: { ...deps.analysisOptions, origin }, log: deps.log,
    fence: () => entry.fence(signal), signal, note: (event) => notes.push(event), label: objectLabel(object) });

  const ref = sourceRef(object);
  if (result.submitted.length === 0) {
    // An ImageStream records refused images as done: the next pass goes on to newer ones.
    if (live.recordsRefusals) await entry.close(marksOf([], result.refused), { submitted: false, signal });
    else {
      await entry.release();
      ledger.rememberRefusal(objectKey(object));
    }
    return { outcome: { kind: 'refused', object: ref, reason: result.reasons.join('; ') } };
  }
  // Not done until marked: a failed mark keeps the claim and is retried (entry.ts).
  return { outcome: { kind: 'submitted', object: ref, images: result.submitted }, close: () => entry.close(marksOf(result.submitted, result.refused), { submitted: true }) };
}
