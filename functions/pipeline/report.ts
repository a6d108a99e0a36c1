/**
 * The pipeline's one way of telling: Kubernetes Events (what `oc describe` shows the object's
 * owner), the log and the image.built announcement, for one object's outcome. Steps before it only collect what to say.
 */
import type { EventReason } from '../kube/events.js';
import { objectLabel, type KubeObject } from '../kube/object.js';
import type { EventRecorder } from '../kube/store.js';
import type { Logger } from '../observability/logger.js';
import type { Outcome, SubmittedImage } from './outcome.js';

export interface ReportDeps {
  readonly recorder: EventRecorder;
  readonly log: Logger;
  /** Whether an analyser is configured: without one, a submission is only resolved and announced. */
  readonly analyzer: boolean;
  /** The front's channel for image.built, when its reply does not carry it (functions/index.ts). */
  readonly announce?: ((outcome: Extract<Outcome, { kind: 'submitted' }>) => Promise<void>) | undefined;
}

/** The Events, in the order they were noted, then the outcome's own; never fails (a failed Event is logged). */
export async function tell(deps: ReportDeps, object: KubeObject, notes: readonly EventReason[], outcome?: Outcome): Promise<void> {
  for (const note of notes) await tellOne(deps, object, note);
  if (outcome?.kind !== 'submitted') return;
  await tellOne(
    deps,
    object,
    deps.analyzer
      ? { type: 'Normal', reason: 'AnalysisSubmitted', message: `Thoth analyses: ${describeIds(outcome.images)}` }
      : { type: 'Normal', reason: 'ImageResolved', message: `no analyser configured; announced as image.built: ${outcome.images.map(({ submission }) => submission.output ?? submission.base ?? '').join(', ')}` },
  );
}

/** image.built for a submission Thoth accepted (or that needs no analyser), before it is marked. */
export async function announceBuilt(deps: ReportDeps, outcome: Outcome): Promise<void> {
  if (outcome.kind === 'submitted') await deps.announce?.(outcome);
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

async function tellOne(deps: ReportDeps, live: KubeObject, event: EventReason): Promise<void> {
  const object = objectLabel(live);
  const log = event.type === 'Warning' ? deps.log.warn : deps.log.info;
  log({ object, reason: event.reason }, event.message);
  try {
    await deps.recorder.record(live, event);
  } catch (error) {
    deps.log.warn({ object }, `could not record the ${event.reason} Event: ${error instanceof Error ? error.message : 'unknown error'}`);
  }
}
