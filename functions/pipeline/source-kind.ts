/** What the pipeline needs to know about one kind of object (Build, ImageStream, TaskRun…). */
import type { BuiltImage } from '../domain/built-image.js';
import type { ObjectAction } from '../events/types.js';
import type { KubeObject } from '../kube/object.js';
import type { ObjectStore } from '../kube/store.js';
import type { Logger } from '../observability/logger.js';
import type { SubmittedImage } from './outcome.js';

export type Plan =
  | { readonly kind: 'ignore'; readonly reason: string }
  /** Nothing to submit, yet done for good: mark it, so that sweeps stop picking it. */
  | { readonly kind: 'mark'; readonly reason: string }
  | { readonly kind: 'analyze'; readonly images: readonly BuiltImage[] };

export interface PlanContext {
  readonly store: ObjectStore;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Something the object's owner should know (a Warning Event once the plan is carried out). */
  readonly warn?: (message: string) => void;
}

/** One object of a source kind, validated once; every question about it uses that parse. */
export interface SourceObject {
  readonly object: KubeObject;
  /** A cheap look, before any API call: the reason to ignore it, or undefined to go on. */
  skipReason(action: ObjectAction): string | undefined;
  /** Decides on the live object, already re-read from the API server. */
  plan(action: ObjectAction, context: PlanContext): Promise<Plan>;
  /**
   * The annotations that mark the object done after these submissions. `refused` are the images Thoth or the push registry
   * refused for good: done too, never to be retried.
   */
  marks(submitted: readonly SubmittedImage[], now: Date, refused: readonly BuiltImage[]): Record<string, string>;
  /**
   * Whether `marks` can record refused images on their own (an ImageStream's per-image record), so that a pass whose every image
   * was refused still moves on to the next ones.
   */
  readonly recordsRefusals: boolean;
}

export interface SourceKind {
  /** Validates the object (throws `invalid`); never reads the API. */
  read(object: KubeObject): SourceObject;
}
