/**
 * The push and submit steps for one object's images: each image copied to the push registry if
 * one is configured, then sent to Thoth, the lease fenced immediately before each submission.
 * One image refused for good does not hold back the others; a transient failure stops them all
 * (the delivery is retried).
 */
import type { BuiltImage } from '../domain/built-image.js';
import { asFailure } from '../errors.js';
import type { EventReason } from '../kube/events.js';
import type { Logger } from '../observability/logger.js';
import { redact } from '../observability/redact.js';
import type { AnalysisOptions } from '../thoth/requests.js';
import type { SubmittedImage } from './outcome.js';
import type { Submitter } from './ports.js';
import { pushBuiltImage, type PushPolicy } from './push.js';
import { submitBuiltImage } from './submit.js';

const PUSH_FAILED = {
  transient: 'copy to the push registry failed: registry unreachable',
  refused: 'copy to the push registry failed: a registry refused it',
  invalid: 'copy to the push registry failed: the image is not one that can be copied',
} as const;

export interface SubmitImagesContext {
  readonly submitter: Submitter | undefined;
  readonly push: PushPolicy | undefined;
  readonly options: AnalysisOptions;
  readonly log: Logger;
  /** Throws unless the claim is provably still ours: called just before each submission. */
  readonly fence: () => Promise<void>;
  /** Ends a push early; a submission once sent is never cut off (submit.ts). */
  readonly signal: AbortSignal | undefined;
  /** Collects the Events to record (report.ts). */
  readonly note: (event: EventReason) => void;
  /** `Kind ns/name`, for the log. */
  readonly label: string;
}

export interface SubmittedImages {
  readonly submitted: readonly SubmittedImage[];
  /** Refused for good by Thoth or a registry. */
  readonly refused: readonly BuiltImage[];
  readonly reasons: readonly string[];
}

export async function submitImages(images: readonly BuiltImage[], context: SubmitImagesContext): Promise<SubmittedImages> {
  const { note, signal } = context;
  const submitted: SubmittedImage[] = [];
  const refused: BuiltImage[] = [];
  const reasons: string[] = [];
  const baseRefusals: string[] = [];
  for (const built of images) {
    // Another namespace's repository on the operator's registries: nothing is fetched or sent, so no analysis id exists.
    const outside = built.outputAccess.refused;
    if (outside !== undefined) {
      note({ type: 'Warning', reason: 'AnalysisRefused', message: outside });
      refused.push(built);
      reasons.push(outside);
      continue;
    }
    let stage: 'push' | 'submit' = 'push';
    try {
      const pushed = context.push === undefined ? { image: built } : await pushBuiltImage(built, context.push, signal);
      if (pushed.notCopied !== undefined) note({ type: 'Warning', reason: 'PushSkipped', message: pushed.notCopied });
      stage = 'submit';
      const submission = await submitBuiltImage(pushed.image, context.submitter, context.options, context.fence, (reason) => baseRefusals.push(redact(reason)));
      submitted.push({ image: pushed.image, submission });
    } catch (error) {
      const failure = asFailure(error);
      // What a registry answered stays in the operator's log: an Event or reply that quoted a
      // host's status would let a Build's author probe addresses through the function.
      if (stage === 'push') context.log.warn({ object: context.label }, `push failed: ${redact(failure.message)}`);
      const message = stage === 'push' ? PUSH_FAILED[failure.kind] : redact(failure.message);
      if (failure.kind !== 'transient' || stage === 'push') {
        note({ type: 'Warning', reason: stage === 'push' ? 'PushFailed' : 'AnalysisRefused', message: failure.kind === 'transient' ? `${message} (will be retried)` : message });
      }
      if (failure.kind === 'transient') throw failure;
      refused.push(built);
      reasons.push(message);
    }
  }
  if (submitted.length > 0) {
    for (const reason of baseRefusals) note({ type: 'Warning', reason: 'AnalysisRefused', message: `${reason}; submitted without it` });
  }
  return { submitted, refused, reasons };
}
