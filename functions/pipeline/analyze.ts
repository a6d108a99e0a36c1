/**
 * One object, start to finish: re-read it live, decide, claim it, push, submit, mark it and
 * tell the user with an Event. Shared by the function, the sweep and the command line.
 *
 * Exactly once: the live object's marker annotation says "done"; a short lease (lease.ts)
 * keeps two processes from both submitting, and expires when its holder dies. Without patch
 * rights it still works, relying on Thoth's cache.
 */
import { ANNOTATIONS } from '../domain/annotations.js';
import type { BuiltImage } from '../domain/built-image.js';
import { asFailure, invalid, transient } from '../errors.js';
import type { ObjectAction } from '../events/types.js';
import type { EventReason } from '../kube/events.js';
import { sourceRef, type KubeObject, type ObjectCoordinates } from '../kube/object.js';
import type { EventRecorder, ObjectStore } from '../kube/store.js';
import type { Logger } from '../observability/logger.js';
import { resubmissions } from '../observability/metrics.js';
import { redact } from '../observability/redact.js';
import type { AnalysisOptions } from '../thoth/requests.js';
import { claimState, DEFAULT_LEASE, Lease, type LeaseTiming } from './lease.js';
import type { Outcome, SubmittedImage } from './outcome.js';
import type { Submitter } from './ports.js';
import { pushBuiltImage, type PushPolicy } from './push.js';
import type { SourceKind, SourceObject } from './source-kind.js';
import type { PipelineState } from './state.js';
import { submitBuiltImage } from './submit.js';

/** Runs a task when a worker is free (functions/concurrency.ts). */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export interface PipelineDeps {
  readonly store: ObjectStore;
  readonly recorder: EventRecorder;
  /** Thoth; undefined when THOTH_USER_API_HOST is empty. */
  readonly submitter?: Submitter;
  readonly push?: PushPolicy;
  /** Keyed by `apiVersion/kind`. */
  readonly sources: ReadonlyMap<string, SourceKind>;
  /** environment type, debug, force; `origin` empty = the object's namespace. */
  readonly analysisOptions: AnalysisOptions;
  /** Test-only: act on the payload without re-reading it (BUILD_WATCHER_TRUST_EVENT_PAYLOAD). */
  readonly trustEventPayload: boolean;
  readonly log: Logger;
  readonly state: PipelineState;
  /** THOTH_BUILD_WATCHER_WORKERS, shared by events and sweeps: ignored events never take a slot. */
  readonly limit: Limiter;
  readonly lease?: LeaseTiming;
  readonly now?: () => Date;
}

export interface AnalyzeInput {
  /** The object from a Resource-mode event, if there was one. */
  readonly payload?: KubeObject;
  readonly ref: ObjectCoordinates;
  readonly action: ObjectAction;
  /** The sweep sets this: objects refused lately are tried again. */
  readonly retryRefused?: boolean;
}

const MAX_CLAIM_ATTEMPTS = 3;

const PUSH_FAILED = {
  transient: 'copy to the push registry failed: registry unreachable',
  refused: 'copy to the push registry failed: a registry refused it',
  invalid: 'copy to the push registry failed: the image is not one that can be copied',
} as const;

const keyOf = (ref: ObjectCoordinates) => `${ref.apiVersion}/${ref.kind}/${ref.namespace}/${ref.name}`;
const describe = (ref: ObjectCoordinates) => `${ref.kind} ${ref.namespace}/${ref.name}`;

export interface AnalyzeOptions {
  readonly signal?: AbortSignal;
  /** Started only once the object is worth working on, never on the filtering path. */
  readonly deadlineMs?: number;
  /** Asked when a worker is free: false drops the object unstarted (a sweep that stopped early). */
  readonly stillWanted?: () => boolean;
}

export async function analyzeObject(input: AnalyzeInput, deps: PipelineDeps, options: AnalyzeOptions = {}): Promise<Outcome> {
  const { signal, deadlineMs } = options;
  const now = clockOf(deps);
  const source = deps.sources.get(`${input.ref.apiVersion}/${input.ref.kind}`);
  if (source === undefined) return { kind: 'ignored', reason: 'kind-not-enabled', object: input.ref };
  const payload = input.payload === undefined ? undefined : source.read(input.payload);
  if (payload !== undefined) {
    const reason = payload.skipReason(input.action);
    if (reason !== undefined) return { kind: 'ignored', reason, object: input.ref };
  } else if (input.action === 'delete') {
    return { kind: 'ignored', reason: 'deleted', object: input.ref };
  }
  if (deps.trustEventPayload && payload === undefined) {
    throw invalid('BUILD_WATCHER_TRUST_EVENT_PAYLOAD needs Resource-mode events: a reference carries no object', 422);
  }
  const { state } = deps;
  const key = keyOf(input.ref);
  if (payload !== undefined && state.markedSince(key, payload.object.uid, payload.object.annotations[ANNOTATIONS.claim])) {
    // The echo of our own claim (or renewal) patch, arriving after we marked the object: older
    // than our mark, which removed that claim and causes an event of its own, as does every later
    // change (a user removing the mark to ask again). A GET would only find it marked. Only a
    // lease that ended in a mark counts: a failed one's claim stays, and its echo is a redelivery
    // like any other. A reference carries no claim, so it is read as before.
    return { kind: 'ignored', reason: 'marked-since', object: input.ref };
  }
  const running = state.inProgress.get(key);
  if (running !== undefined) {
    // Waits without a worker slot. Answered only once that work has ended: had it failed,
    // acknowledging this delivery early would leave the object to the lease and the sweep.
    try {
      await running;
    } catch {
      throw transient(`${describe(input.ref)} failed in a concurrent delivery`);
    }
    return { kind: 'ignored', reason: 'in-progress', object: input.ref };
  }
  if (input.retryRefused !== true && state.refusedLately(key, now().getTime())) return { kind: 'ignored', reason: 'refused-recently', object: input.ref };
  if (payload !== undefined && claimState(payload.object, state.holder, now()).state === 'busy') {
    // The echo of another process's claim patch. Its record is the lease itself: should that
    // process die, the lease expires and the next delivery or sweep takes the object over.
    return { kind: 'ignored', reason: 'claimed-elsewhere', object: input.ref };
  }
  const work = deps.limit(async () => {
    if (options.stillWanted?.() === false) return { kind: 'ignored', reason: 'not-wanted', object: input.ref } as const;
    const deadline = deadlineMs === undefined ? undefined : AbortSignal.timeout(deadlineMs);
    const signals = [signal, deadline].filter((s) => s !== undefined);
    return analyzeLive(input, payload, source, deps, key, signals.length === 0 ? undefined : AbortSignal.any(signals));
  });
  state.inProgress.set(key, work);
  try {
    return await work;
  } finally {
    state.inProgress.delete(key);
  }
}

async function analyzeLive(
  input: AnalyzeInput,
  payload: SourceObject | undefined,
  source: SourceKind,
  deps: PipelineDeps,
  key: string,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  const now = clockOf(deps);
  for (let attempt = 1; ; attempt++) {
    const read = deps.trustEventPayload ? payload?.object : await deps.store.read(input.ref, signal);
    if (read === undefined) return { kind: 'ignored', reason: 'gone', object: input.ref };
    if (payload !== undefined && payload.object.uid !== '' && read.uid !== payload.object.uid) return { kind: 'ignored', reason: 'replaced', object: input.ref };
    const live = deps.trustEventPayload && payload !== undefined ? payload : source.read(read);
    const pending = deps.state.pendingMarks.get(key);
    if (pending !== undefined && pending.uid === read.uid) {
      // Marked from the object as it is now, at its resourceVersion: another process's
      // changes to the same annotations (an ImageStream's record) are kept, not overwritten.
      const marks = { ...live.marks(pending.submitted, now(), pending.refused), [ANNOTATIONS.claim]: null };
      await deps.store.patchAnnotations(read, marks, { resourceVersion: read.resourceVersion, ...(signal ? { signal } : {}) });
      deps.state.pendingMarks.delete(key);
      return pending.outcome;
    }
    const claim = claimState(read, deps.state.holder, now());
    if (claim.state === 'busy') return { kind: 'busy', object: input.ref, until: claim.until };
    const warnings: string[] = [];
    const plan = await live.plan(input.action, { store: deps.store, log: deps.log, warn: (message) => warnings.push(message), ...(signal ? { signal } : {}) });
    if (plan.kind === 'ignore') return { kind: 'ignored', reason: plan.reason, object: input.ref };
    for (const message of warnings) await tell(deps, read, { type: 'Warning', reason: 'AnalysisWarning', message });
    if (plan.kind === 'mark') {
      if (!deps.trustEventPayload) await markOnly(live, deps, now(), signal);
      return { kind: 'ignored', reason: plan.reason, object: input.ref };
    }
    const lease = deps.trustEventPayload ? 'forbidden' : await Lease.take(deps.store, read, deps.state.holder, deps.lease ?? DEFAULT_LEASE, signal);
    if (lease === 'conflict') {
      if (attempt < MAX_CLAIM_ATTEMPTS) continue;
      throw transient(`${describe(read)} kept changing while being claimed`);
    }
    if (lease === 'forbidden' && !deps.trustEventPayload && deps.state.firstNoPatchWarning()) {
      deps.log.warn({ object: describe(read) }, "not allowed to patch annotations: objects will not be marked, duplicates are left to Thoth's cache");
    }
    // A claim left by a holder that died: it may have submitted before it could mark.
    if (claim.state === 'expired') resubmissions.inc({ kind: read.kind });
    const held = lease === 'forbidden' ? undefined : lease;
    try {
      const leased = held === undefined ? signal : AbortSignal.any([held.lost, ...(signal ? [signal] : [])]);
      return await runPlan(live, source, plan.images, held, deps, key, leased);
    } finally {
      held?.stop();
    }
  }
}

async function runPlan(
  live: SourceObject,
  source: SourceKind,
  images: readonly BuiltImage[],
  lease: Lease | undefined,
  deps: PipelineDeps,
  key: string,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  const now = clockOf(deps);
  const object = live.object;
  const ref = sourceRef(object);
  const origin = deps.analysisOptions.origin === undefined || deps.analysisOptions.origin === '' ? object.namespace : deps.analysisOptions.origin;
  const options: AnalysisOptions = { ...deps.analysisOptions, origin };
  const submitted: SubmittedImage[] = [];
  const refused: BuiltImage[] = [];
  const reasons: string[] = [];
  const baseWarnings: string[] = [];
  for (const built of images) {
    let stage: 'push' | 'submit' = 'push';
    try {
      const pushed = deps.push === undefined ? { image: built } : await pushBuiltImage(built, deps.push, signal);
      if (pushed.notCopied !== undefined) await tell(deps, object, { type: 'Warning', reason: 'PushSkipped', message: pushed.notCopied });
      const image = pushed.image;
      stage = 'submit';
      submitted.push({ image, submission: await submitBuiltImage(image, deps.submitter, options, signal, (reason) => baseWarnings.push(redact(reason))) });
    } catch (error) {
      const failure = asFailure(error);
      // What a registry answered stays in the operator's log: an Event or reply that quoted a
      // host's status would let a Build's author probe addresses through the function.
      if (stage === 'push') deps.log.warn({ object: describe(object) }, `push failed: ${redact(failure.message)}`);
      const message = stage === 'push' ? PUSH_FAILED[failure.kind] : redact(failure.message);
      if (failure.kind !== 'transient' || stage === 'push') {
        const reason = stage === 'push' ? 'PushFailed' : 'AnalysisRefused';
        await tell(deps, object, { type: 'Warning', reason, message: failure.kind === 'transient' ? `${message} (will be retried)` : message });
      }
      // The claim is left to expire: a redelivery to this process resumes under it, any other
      // process takes over within one lease.
      if (failure.kind === 'transient') throw failure;
      // One image refused for good does not hold back the others of the same object.
      refused.push(built);
      reasons.push(message);
    }
  }
  // Marks computed from the object as claimed; after a conflict, from the object read again.
  const claimed = lease?.latest;
  const marksOf = (latest: KubeObject) => ({
    ...(latest === claimed ? live : source.read(latest)).marks(submitted, now(), refused),
    [ANNOTATIONS.claim]: null,
  });
  if (submitted.length === 0) {
    if (lease !== undefined && live.recordsRefusals) {
      // Recorded as done: the next pass goes on to newer images instead of these again.
      await lease.update(marksOf, signal);
      deps.state.rememberMarked(key, object.uid, lease.claims);
    } else {
      await lease?.release();
      deps.state.rememberRefusal(key, now().getTime());
    }
    return { kind: 'refused', object: ref, reason: reasons.join('; ') };
  }

  for (const warning of baseWarnings) await tell(deps, object, { type: 'Warning', reason: 'AnalysisRefused', message: `${warning}; submitted without it` });
  const outcome: Outcome = { kind: 'submitted', object: ref, images: submitted };
  await tell(
    deps,
    object,
    deps.submitter === undefined
      ? { type: 'Normal', reason: 'ImageResolved', message: `no analyser configured; announced as image.built: ${submitted.map(({ submission }) => submission.output ?? submission.base ?? '').join(', ')}` }
      : { type: 'Normal', reason: 'AnalysisSubmitted', message: `Thoth analyses: ${describeIds(submitted)}` },
  );
  if (lease !== undefined) {
    try {
      await lease.update(marksOf, signal);
      deps.state.rememberMarked(key, object.uid, lease.claims);
    } catch (error) {
      // Not done until marked: the redelivery only marks, never resubmits.
      deps.state.pendingMarks.set(key, { uid: object.uid, submitted, refused, outcome });
      throw transient(`submitted, but could not mark ${describe(object)}`, error);
    }
  }
  return outcome;
}

function describeIds(submitted: readonly SubmittedImage[]): string {
  const parts: string[] = [];
  for (const { submission } of submitted) {
    const { output, base, buildLog } = submission.ids;
    if (output !== undefined) parts.push(`output ${submission.output ?? ''} → ${output}`);
    if (base !== undefined) parts.push(`base ${submission.base ?? ''} → ${base}`);
    if (buildLog !== undefined) parts.push(`build log → ${buildLog}`);
  }
  return parts.length === 0 ? 'submitted' : parts.join('; ');
}

/** The pipeline's clock: the deps' own (tests set one), else the wall clock. */
function clockOf(deps: PipelineDeps): () => Date {
  return deps.now ?? (() => new Date());
}

async function markOnly(live: SourceObject, deps: PipelineDeps, now: Date, signal: AbortSignal | undefined): Promise<void> {
  try {
    await deps.store.patchAnnotations(live.object, live.marks([], now, []), signal ? { signal } : {});
  } catch (error) {
    // Unmarked, it is only looked at again: nothing is submitted either way.
    deps.log.debug({ object: describe(live.object) }, `could not mark: ${error instanceof Error ? error.message : 'unknown error'}`);
  }
}

async function tell(deps: PipelineDeps, live: KubeObject, event: EventReason): Promise<void> {
  const object = describe(live);
  const log = event.type === 'Warning' ? deps.log.warn : deps.log.info;
  log({ object, reason: event.reason }, event.message);
  try {
    await deps.recorder.record(live, event);
  } catch (error) {
    deps.log.warn({ object }, `could not record the ${event.reason} Event: ${error instanceof Error ? error.message : 'unknown error'}`);
  }
}
