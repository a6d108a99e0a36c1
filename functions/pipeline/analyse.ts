/**
 * One object, start to finish: re-read it live, decide, claim it, push, submit, mark it and
 * tell the user with an Event. Shared by the function, the sweep and the command line.
 *
 * Exactly once: the live object's marker annotation says "done"; a short claim, taken with
 * an optimistic-concurrency patch, keeps two deliveries racing on two replicas from both
 * submitting. Without patch rights it still works, relying on Thoth's cache.
 */
import { randomBytes } from 'node:crypto';
import { ANNOTATIONS } from '../domain/annotations.js';
import type { BuiltImage, SourceObjectRef } from '../domain/built-image.js';
import { BuildWatcherError, invalid, transient } from '../errors.js';
import { sourceRef, type KubeObject, type ObjectCoordinates } from '../events/intake.js';
import type { ObjectAction } from '../events/types.js';
import { isKubeStatus } from '../kube/api.js';
import type { EventReason } from '../kube/events.js';
import type { Logger } from '../observability/logger.js';
import { redact } from '../observability/redact.js';
import type { AnalysisOptions } from '../thoth/requests.js';
import type { EventRecorder, ObjectStore, Submitter } from './ports.js';
import { pushBuiltImage, type PushPolicy } from './push.js';
import type { SourceKind, SubmittedImage } from './source-kind.js';
import { submitBuiltImage } from './submit.js';

export interface PipelineDeps {
  readonly store: ObjectStore;
  readonly recorder: EventRecorder;
  readonly submitter: Submitter;
  readonly push?: PushPolicy;
  /** Keyed by `apiVersion/kind`. */
  readonly sources: ReadonlyMap<string, SourceKind>;
  /** environment type, debug, force; `origin` empty = the object's namespace. */
  readonly analysisOptions: AnalysisOptions;
  /** Test-only: act on the payload without re-reading it (BUILD_WATCHER_TRUST_EVENT_PAYLOAD). */
  readonly trustEventPayload: boolean;
  readonly log: Logger;
  readonly now?: () => Date;
  readonly claimTtlMs?: number;
}

export type Outcome =
  | { readonly kind: 'ignored'; readonly reason: string; readonly object: ObjectCoordinates }
  | { readonly kind: 'submitted'; readonly object: SourceObjectRef; readonly images: readonly SubmittedImage[] }
  | { readonly kind: 'refused'; readonly object: SourceObjectRef; readonly reason: string };

export interface AnalyseInput {
  /** The object from a Resource-mode event, if there was one. */
  readonly payload?: KubeObject;
  readonly ref: ObjectCoordinates;
  readonly action: ObjectAction;
  /** The sweep sets this: objects refused lately are tried again. */
  readonly retryRefused?: boolean;
}

/** Names the claimant, for people reading the annotation. */
const HOLDER = `${process.env['HOSTNAME'] ?? 'build-watcher'}-${randomBytes(4).toString('hex')}`;
const DEFAULT_CLAIM_TTL_MS = 10 * 60 * 1000;
const MAX_CLAIM_ATTEMPTS = 3;

/** Warned once per process, then quiet: the Role may simply not grant patch. */
let warnedNoPatch = false;

function claimHeldElsewhere(object: KubeObject, now: Date): boolean {
  const claim = object.annotations[ANNOTATIONS.claim];
  if (claim === undefined) return false;
  const [holder, expiry] = claim.split(' ');
  // Our own claim, left after a transient failure, lets the redelivery carry on.
  if (holder === HOLDER) return false;
  const until = Date.parse(expiry ?? '');
  return Number.isFinite(until) && until > now.getTime();
}

/**
 * Objects this process is working on right now. Our own claim and mark patches cause update
 * events, and a Broker redelivers when an attempt outlives its timeout; while the work is under
 * way, those must not start it a second time.
 */
const inProgress = new Map<string, Promise<Outcome>>();

/**
 * Objects Thoth refused lately. Releasing the claim after a refusal causes an update event,
 * which would otherwise submit, be refused and release again, for ever. The sweep retries
 * refused objects later, when the image may exist or the credentials may have been fixed.
 */
const recentlyRefused = new Map<string, number>();
const REFUSAL_MEMORY_MS = 10 * 60 * 1000;
const REFUSAL_MEMORY_SIZE = 1000;

/**
 * Submitted, but the mark did not land (the API server was briefly unreachable). The next
 * delivery for the object only marks it, instead of submitting a second time.
 */
const pendingMarks = new Map<string, { readonly marks: Record<string, string | null>; readonly outcome: Outcome }>();

function keyOf(ref: ObjectCoordinates): string {
  return `${ref.apiVersion}/${ref.kind}/${ref.namespace}/${ref.name}`;
}

function refusedLately(key: string, now: Date): boolean {
  const until = recentlyRefused.get(key);
  if (until === undefined) return false;
  if (until > now.getTime()) return true;
  recentlyRefused.delete(key);
  return false;
}

function rememberRefusal(key: string, now: Date): void {
  if (recentlyRefused.size >= REFUSAL_MEMORY_SIZE) {
    const oldest = recentlyRefused.keys().next().value;
    if (oldest !== undefined) recentlyRefused.delete(oldest);
  }
  recentlyRefused.set(key, now.getTime() + REFUSAL_MEMORY_MS);
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

export async function analyseObject(input: AnalyseInput, deps: PipelineDeps, signal?: AbortSignal): Promise<Outcome> {
  const now = deps.now ?? (() => new Date());
  const source = deps.sources.get(`${input.ref.apiVersion}/${input.ref.kind}`);
  if (source === undefined) return { kind: 'ignored', reason: 'kind-not-enabled', object: input.ref };
  if (input.payload !== undefined) {
    const reason = source.prefilter(input.payload, input.action);
    if (reason !== undefined) return { kind: 'ignored', reason, object: input.ref };
  } else if (input.action === 'delete') {
    return { kind: 'ignored', reason: 'deleted', object: input.ref };
  }
  if (deps.trustEventPayload && input.payload === undefined) {
    throw invalid('BUILD_WATCHER_TRUST_EVENT_PAYLOAD needs Resource-mode events: a reference carries no object', 422);
  }
  const key = keyOf(input.ref);
  const running = inProgress.get(key);
  if (running !== undefined) {
    // Answered only once that work has ended: had it failed, acknowledging this delivery
    // early would lose the object, since the first delivery's 503 may reach nobody.
    try {
      await running;
    } catch {
      throw transient(`${input.ref.kind} ${input.ref.namespace}/${input.ref.name} failed in a concurrent delivery`);
    }
    return { kind: 'ignored', reason: 'in-progress', object: input.ref };
  }
  if (input.retryRefused !== true && refusedLately(key, now())) return { kind: 'ignored', reason: 'refused-recently', object: input.ref };
  const work = analyseLive(input, source, deps, now, key, signal);
  inProgress.set(key, work);
  try {
    return await work;
  } finally {
    inProgress.delete(key);
  }
}

async function analyseLive(
  input: AnalyseInput,
  source: SourceKind,
  deps: PipelineDeps,
  now: () => Date,
  key: string,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  if (input.payload !== undefined && claimHeldElsewhere(input.payload, now())) {
    // The echo of another replica's claim patch: that replica is at work, and its own
    // delivery is the one redelivered should it fail.
    return { kind: 'ignored', reason: 'claimed-elsewhere', object: input.ref };
  }
  for (let attempt = 1; ; attempt++) {
    const live = deps.trustEventPayload ? input.payload : await deps.store.read(input.ref, signal);
    if (live === undefined) return { kind: 'ignored', reason: 'gone', object: input.ref };
    if (input.payload !== undefined && input.payload.uid !== '' && live.uid !== input.payload.uid) {
      return { kind: 'ignored', reason: 'replaced', object: input.ref };
    }
    const pending = pendingMarks.get(key);
    if (pending !== undefined && pending.outcome.kind === 'submitted' && pending.outcome.object.uid === live.uid) {
      await deps.store.patchAnnotations(live, pending.marks, signal ? { signal } : {});
      pendingMarks.delete(key);
      return pending.outcome;
    }
    if (claimHeldElsewhere(live, now())) {
      // Another replica is submitting it. Come back later rather than acknowledge: if that
      // replica fails, this delivery is the one that must finish the job.
      throw transient(`${live.kind} ${live.namespace}/${live.name} is being submitted by another replica`);
    }
    const plan = await source.plan(live, input.action, { store: deps.store, log: deps.log, ...(signal ? { signal } : {}) });
    if (plan.kind === 'ignore') return { kind: 'ignored', reason: plan.reason, object: input.ref };
    if (plan.kind === 'mark') {
      if (!deps.trustEventPayload) await markOnly(live, source, deps, now(), signal);
      return { kind: 'ignored', reason: plan.reason, object: input.ref };
    }

    const claim = await takeClaim(live, deps, now(), signal);
    if (claim === 'conflict') {
      if (attempt < MAX_CLAIM_ATTEMPTS) continue;
      throw transient(`${live.kind} ${live.namespace}/${live.name} kept changing while being claimed`);
    }
    const outcome = await runPlan(live, plan.images, source, claim === 'claimed', deps, now, key, signal);
    if (outcome.kind === 'refused') rememberRefusal(key, now());
    return outcome;
  }
}

async function takeClaim(
  live: KubeObject,
  deps: PipelineDeps,
  now: Date,
  signal: AbortSignal | undefined,
): Promise<'claimed' | 'unmarkable' | 'conflict'> {
  if (deps.trustEventPayload) return 'unmarkable';
  const expiry = new Date(now.getTime() + (deps.claimTtlMs ?? DEFAULT_CLAIM_TTL_MS)).toISOString();
  try {
    await deps.store.patchAnnotations(
      live,
      { [ANNOTATIONS.claim]: `${HOLDER} ${expiry}` },
      { resourceVersion: live.resourceVersion, ...(signal ? { signal } : {}) },
    );
    return 'claimed';
  } catch (error) {
    if (isKubeStatus(error, 409)) return 'conflict';
    if (isKubeStatus(error, 403)) {
      if (!warnedNoPatch) {
        warnedNoPatch = true;
        deps.log.warn(
          { object: `${live.kind} ${live.namespace}/${live.name}` },
          'not allowed to patch annotations: objects will not be marked, duplicates are left to Thoth\'s cache',
        );
      }
      return 'unmarkable';
    }
    throw error;
  }
}

async function runPlan(
  live: KubeObject,
  images: readonly SubmittedImage['image'][],
  source: SourceKind,
  markable: boolean,
  deps: PipelineDeps,
  now: () => Date,
  key: string,
  signal: AbortSignal | undefined,
): Promise<Outcome> {
  const ref = sourceRef(live);
  const options: AnalysisOptions = {
    ...deps.analysisOptions,
    origin: deps.analysisOptions.origin === undefined || deps.analysisOptions.origin === '' ? live.namespace : deps.analysisOptions.origin,
  };
  const submitted: SubmittedImage[] = [];
  const refused: BuiltImage[] = [];
  const reasons: string[] = [];
  const baseWarnings: string[] = [];
  const onBaseRefused = (reason: string) => baseWarnings.push(redact(reason));
  for (const built of images) {
    let stage: 'push' | 'submit' = 'push';
    try {
      const image = deps.push === undefined ? built : await pushBuiltImage(built, deps.push, signal);
      stage = 'submit';
      submitted.push({ image, submission: await submitBuiltImage(image, deps.submitter, options, signal, onBaseRefused) });
    } catch (error) {
      const failure = error instanceof BuildWatcherError ? error : transient('unexpected failure', error);
      const message = redact(failure.message);
      if (failure.kind !== 'transient' || stage === 'push') {
        await tell(deps, live, {
          type: 'Warning',
          reason: stage === 'push' ? 'PushFailed' : 'AnalysisRefused',
          message: failure.kind === 'transient' ? `${message} (will be retried)` : message,
        });
      }
      // After a transient failure the claim stays ours: the redelivery resumes under it, and
      // no other replica starts a duplicate meanwhile. It expires if this process goes away.
      if (failure.kind === 'transient') throw failure;
      // One image refused for good does not hold back the others of the same object.
      refused.push(built);
      reasons.push(message);
    }
  }
  if (submitted.length === 0) {
    if (markable) await releaseClaim(live, deps);
    return { kind: 'refused', object: ref, reason: reasons.join('; ') };
  }

  for (const warning of baseWarnings) await tell(deps, live, { type: 'Warning', reason: 'AnalysisRefused', message: `${warning}; submitted without it` });
  const outcome: Outcome = { kind: 'submitted', object: ref, images: submitted };
  await tell(deps, live, { type: 'Normal', reason: 'AnalysisSubmitted', message: `Thoth analyses: ${describeIds(submitted)}` });
  if (markable) {
    const marks = { ...source.markAnnotations(live, submitted, now(), refused), [ANNOTATIONS.claim]: null };
    try {
      await deps.store.patchAnnotations(live, marks, signal ? { signal } : {});
    } catch (error) {
      // Not done until marked: the redelivery only marks (pendingMarks), never resubmits.
      if (pendingMarks.size >= REFUSAL_MEMORY_SIZE) pendingMarks.delete(pendingMarks.keys().next().value ?? '');
      pendingMarks.set(key, { marks, outcome });
      throw transient(`submitted, but could not mark ${live.kind} ${live.namespace}/${live.name}`, error);
    }
  }
  return outcome;
}

async function markOnly(live: KubeObject, source: SourceKind, deps: PipelineDeps, now: Date, signal: AbortSignal | undefined): Promise<void> {
  try {
    await deps.store.patchAnnotations(live, source.markAnnotations(live, [], now), signal ? { signal } : {});
  } catch (error) {
    // Unmarked, it is only looked at again: nothing is submitted either way.
    deps.log.debug({ object: `${live.kind} ${live.namespace}/${live.name}` }, `could not mark: ${error instanceof Error ? error.message : 'unknown error'}`);
  }
}

async function releaseClaim(live: KubeObject, deps: PipelineDeps): Promise<void> {
  try {
    await deps.store.patchAnnotations(live, { [ANNOTATIONS.claim]: null });
  } catch {
    // The claim expires by itself; the sweep picks the object up after that.
  }
}

async function tell(deps: PipelineDeps, live: KubeObject, event: EventReason): Promise<void> {
  const object = `${live.kind} ${live.namespace}/${live.name}`;
  const log = event.type === 'Warning' ? deps.log.warn : deps.log.info;
  log({ object, reason: event.reason }, event.message);
  try {
    await deps.recorder.record(live, event);
  } catch (error) {
    deps.log.warn({ object }, `could not record the ${event.reason} Event: ${error instanceof Error ? error.message : 'unknown error'}`);
  }
}
