/**
 * What the run-like sources (Tekton TaskRun/PipelineRun, Shipwright BuildRun) share: the Knative-style `Succeeded`
 * condition, and an extraction the pipeline maps into one BuiltImage per image. Extractors never throw: bad input
 * comes back as `invalid`, and individual bad values in `skipped` for a debug line.
 */
import type { PinnedImage, SourceObjectRef } from '../domain/built-image.js';
import { digestProblem, imageKey, parseImageReference } from '../domain/image-reference.js';
import { isRecord } from '../kube/object.js';

/** A type-hinted value that was not used, and why (the value itself is never echoed). */
export interface Skipped { readonly name: string; readonly why: string }

export type RunExtraction =
  | {
      readonly state: 'succeeded';
      readonly ref: SourceObjectRef;
      /** The condition's reason, e.g. Succeeded or Completed. */
      readonly outcome: string;
      /** Digest-pinned, deduplicated, in the order the results name them. */
      readonly images: readonly PinnedImage[];
      readonly skipped: readonly Skipped[];
      /** The source commit built, when the run reports one. */
      readonly revision?: string;
    }
  | { readonly state: 'failed'; readonly ref: SourceObjectRef; readonly outcome: string }
  | { readonly state: 'running'; readonly ref: SourceObjectRef }
  | { readonly state: 'invalid'; readonly why: string; readonly ref?: SourceObjectRef };

/**
 * A run's end, from `status.conditions[type=Succeeded]` (no status or condition: running): the extraction to answer
 * when it has not succeeded, or the reason it succeeded with (Succeeded, Completed) when its images are to be read.
 */
export function runCompletion(ref: SourceObjectRef, status: unknown): { readonly unfinished: RunExtraction } | { readonly outcome: string } {
  const running = { unfinished: { state: 'running', ref } } as const;
  if (status === undefined || status === null) return running;
  if (!isRecord(status)) return { unfinished: { state: 'invalid', why: 'status: expected an object', ref } };
  const conditions = status['conditions'];
  if (conditions === undefined || conditions === null) return running;
  if (!Array.isArray(conditions)) return { unfinished: { state: 'invalid', why: 'status.conditions: expected a list', ref } };
  const succeeded: unknown = conditions.find((condition) => isRecord(condition) && condition['type'] === 'Succeeded');
  if (!isRecord(succeeded)) return running;
  const reason = typeof succeeded['reason'] === 'string' ? succeeded['reason'].slice(0, 128) : '';
  if (succeeded['status'] === 'True') return { outcome: reason || 'Succeeded' };
  if (succeeded['status'] === 'False') return { unfinished: { state: 'failed', ref, outcome: reason || 'Failed' } };
  return running;
}

/** A commit id as git prints it (SHA-1 or SHA-256, hex); anything else is not taken for a revision. */
export const isCommitId = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(value);

/** `uri` (any tag kept) pinned to `digest`; a uri already carrying a different digest is refused rather than guessed at. */

export function pinImage(uri: string, digest: string): { readonly ok: true; readonly image: PinnedImage } | { readonly ok: false; readonly why: string } {
  const badDigest = digestProblem(digest);
  if (badDigest !== undefined) return { ok: false, why: badDigest };
  const parsed = parseImageReference(uri);
  if (!parsed.ok) return { ok: false, why: parsed.why };
  if (parsed.reference.digest !== undefined && parsed.reference.digest !== digest) {
    return { ok: false, why: 'the image reference carries a different digest than the one reported' };
  }
  return { ok: true, image: { ...parsed.reference, digest } };
}

/** Keeps the first few skipped values; a flood of garbage must not flood the log. */
export class SkipList {
  static readonly LIMIT = 32;
  readonly #items: Skipped[] = [];
  #dropped = 0;

  add(name: string, why: string): void {
    if (this.#items.length < SkipList.LIMIT) this.#items.push({ name: name.slice(0, 128), why });
    else this.#dropped += 1;
  }

  toArray(): readonly Skipped[] {
    if (this.#dropped === 0) return [...this.#items];
    return [...this.#items, { name: '…', why: `${this.#dropped} more skipped` }];
  }
}

/** Digest-pinned images, deduplicated on `imageKey`. */
export class ImageSet {
  readonly #images = new Map<string, PinnedImage>();

  add(image: PinnedImage): void {
    const key = imageKey(image);
    if (!this.#images.has(key)) this.#images.set(key, image);
  }

  toArray(): readonly PinnedImage[] {
    return [...this.#images.values()];
  }
}
