/** What the pipeline needs to know about one kind of object (Build, ImageStream, TaskRun…). */
import type { BuiltImage } from '../domain/built-image.js';
import type { KubeObject } from '../events/intake.js';
import type { ObjectAction } from '../events/types.js';
import type { Logger } from '../observability/logger.js';
import type { ObjectStore } from './ports.js';
import type { Submission } from './submit.js';

export type Plan =
  | { readonly kind: 'ignore'; readonly reason: string }
  /** Nothing to submit, yet done for good: mark it, so that sweeps stop picking it. */
  | { readonly kind: 'mark'; readonly reason: string }
  | { readonly kind: 'analyse'; readonly images: readonly BuiltImage[] };

export interface PlanContext {
  readonly store: ObjectStore;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

export interface SubmittedImage {
  readonly image: BuiltImage;
  readonly submission: Submission;
}

export interface SourceKind {
  /**
   * A cheap look at an event's payload, before any API call: the reason to ignore it, or
   * undefined to go on. Most update events stop here.
   */
  prefilter(object: KubeObject, action: ObjectAction): string | undefined;
  /** Decides on the live object, already re-read from the API server. */
  plan(live: KubeObject, action: ObjectAction, context: PlanContext): Promise<Plan>;
  /**
   * The annotations that mark the object done after these submissions. `refused` are the
   * images Thoth or the push registry refused for good: done too, never to be retried.
   */
  markAnnotations(live: KubeObject, submitted: readonly SubmittedImage[], now: Date, refused?: readonly BuiltImage[]): Record<string, string>;
}
