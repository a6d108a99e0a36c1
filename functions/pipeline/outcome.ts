/** What became of one object, for every front: the function, the sweep and the command line. */
import type { BuiltImage, SourceObjectRef } from '../domain/built-image.js';
import type { ObjectCoordinates } from '../kube/object.js';
import { submissions } from '../observability/metrics.js';

/** What Thoth answered for one BuiltImage, and the references it was given. */
export interface Submission {
  readonly ids: { readonly output?: string; readonly base?: string; readonly buildLog?: string };
  /** True when Thoth answered every image from its cache. */
  readonly cached: boolean;
  readonly output?: string;
  readonly base?: string;
}

export interface SubmittedImage { readonly image: BuiltImage; readonly submission: Submission }

export type Outcome =
  | { readonly kind: 'ignored'; readonly reason: string; readonly object: ObjectCoordinates }
  | { readonly kind: 'submitted'; readonly object: SourceObjectRef; readonly images: readonly SubmittedImage[] }
  | { readonly kind: 'refused'; readonly object: SourceObjectRef; readonly reason: string }
  /** Another process holds an unexpired claim on it: not a failure, come back after `until`. */
  | { readonly kind: 'busy'; readonly object: ObjectCoordinates; readonly until: Date };

/** build_watcher_submissions_total for one outcome, whichever front it came from. */
export function countSubmission(outcome: Outcome): void {
  if (outcome.kind === 'refused') submissions.inc({ endpoint: 'any', result: 'refused' });
  if (outcome.kind !== 'submitted') return;
  for (const { image, submission } of outcome.images) {
    submissions.inc({ endpoint: image.analysis === 'image' ? 'analyze' : 'build-analysis', result: submission.cached ? 'cached' : 'submitted' });
  }
}
