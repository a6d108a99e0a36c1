/**
 * OpenShift ImageStream (image.openshift.io/v1): every tag's current image (`status.tags[].items[0]`), and which
 * were not submitted yet per the stream's own `ANNOTATIONS.submittedImages` record (see submitted-images.ts).
 * Covers images pushed or imported without a Build.
 */
import type { PinnedImage, SourceObjectRef } from '../domain/built-image.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { digestProblem, isTag, parseImageReference } from '../domain/image-reference.js';
import { streamRepositories } from '../kube/imagestream-repositories.js';
import { isRecord, sourceRef, type KubeObject } from '../kube/object.js';
import { SkipList, type Skipped } from './run.js';
import { isSubmitted, parseSubmittedImages, recordedDigests, type SubmittedImages, type TagState } from './submitted-images.js';

export interface StreamTag extends TagState {
  /**
   * `dockerImageReference` pinned to the item's `image` digest: where the image really is (the integrated registry
   * for pushed images, the source registry for imported ones). Its tag is the stream tag when in the stream's own repository.
   */
  readonly image: PinnedImage;
}

export type ImageStreamRead =
  | {
      readonly state: 'read';
      readonly ref: SourceObjectRef;
      /** Tags with a usable current image, in status order. */
      readonly tags: readonly StreamTag[];
      readonly submitted: SubmittedImages;
      readonly skipped: readonly Skipped[];
    }
  | { readonly state: 'invalid'; readonly why: string; readonly ref?: SourceObjectRef };

/** One image to submit, and every tag that currently points at it. */
export interface PendingImage {
  readonly image: PinnedImage;
  readonly tags: readonly string[];
  /** The oldest `created` among those tags' current items. */
  readonly created?: string;
}

function readTag(entry: unknown, own: string | undefined): { tag: StreamTag } | { name: string; why: string } {
  if (!isRecord(entry) || typeof entry['tag'] !== 'string' || !isTag(entry['tag'])) return { name: 'status.tags[]', why: 'expected {tag, items}' };
  const tag = entry['tag'];
  const items = entry['items'];
  if (items === undefined || items === null || (Array.isArray(items) && items.length === 0)) return { name: tag, why: 'no image yet' };
  const item: unknown = Array.isArray(items) ? items[0] : undefined;
  if (!isRecord(item)) return { name: tag, why: 'items[0]: expected an object' };
  const digest = item['image'];
  const reference = item['dockerImageReference'];
  if (typeof digest !== 'string') return { name: tag, why: 'items[0].image: expected a digest' };
  const badDigest = digestProblem(digest);
  if (badDigest !== undefined) return { name: tag, why: `items[0].image: ${badDigest}` };
  if (typeof reference !== 'string') return { name: tag, why: 'items[0].dockerImageReference: expected a string' };
  const parsed = parseImageReference(reference);
  if (!parsed.ok) return { name: tag, why: `items[0].dockerImageReference: ${parsed.why}` };
  const { registry, repository, digest: referenceDigest, tag: referenceTag } = parsed.reference;
  if (referenceDigest !== undefined && referenceDigest !== digest) {
    return { name: tag, why: 'items[0].dockerImageReference names another digest than items[0].image' };
  }
  const imageTag = own === `${registry}/${repository}` ? tag : referenceTag;
  const created = item['created'];
  return { tag: { tag, digest, ...(typeof created === 'string' && !Number.isNaN(Date.parse(created)) ? { created } : {}),
    image: { registry, repository, ...(imageTag !== undefined ? { tag: imageTag } : {}), digest } } };
}

/** Reads an ImageStream and its submitted-images record; never throws. */
export function readImageStream(object: KubeObject): ImageStreamRead {
  const ref = sourceRef(object);
  const status = object.raw['status'] ?? {};
  if (!isRecord(status)) return { state: 'invalid', why: 'status: expected an object', ref };
  const list = status['tags'] ?? [];
  if (!Array.isArray(list)) return { state: 'invalid', why: 'status.tags: expected a list', ref };

  const skipped = new SkipList();
  const { record, problem } = parseSubmittedImages(object.annotations[ANNOTATIONS.submittedImages]);
  if (problem !== undefined) skipped.add(ANNOTATIONS.submittedImages, `${problem}; read as empty`);

  const own = streamRepositories(object).own;
  const seen = new Set<string>();
  const tags: StreamTag[] = [];
  for (const entry of list) {
    const outcome = readTag(entry, own);
    if ('why' in outcome) skipped.add(outcome.name, outcome.why);
    else if (seen.has(outcome.tag.tag)) skipped.add(outcome.tag.tag, 'duplicate tag; the first one is used');
    else {

      seen.add(outcome.tag.tag);
      tags.push(outcome.tag);
    }
  }
  return { state: 'read', ref, tags, submitted: record, skipped: skipped.toArray() };
}

/**
 * The current images not submitted yet, one per digest, oldest first (submitting in that
 * order keeps the record's `:coveredUntil` from ever passing over an unsubmitted tag).
 * Pass an empty record to get every current image (a forced sweep).
 */
export function pendingImages(tags: readonly StreamTag[], submitted: SubmittedImages): PendingImage[] {
  const digests = recordedDigests(submitted);
  const byDigest = new Map<string, { image: StreamTag['image']; tags: string[]; created?: string }>();
  for (const state of tags) {
    if (isSubmitted(submitted, state, digests)) continue;
    const pending = byDigest.get(state.digest);
    if (pending === undefined) {
      byDigest.set(state.digest, { image: state.image, tags: [state.tag], ...(state.created !== undefined ? { created: state.created } : {}) });
      continue;
    }
    pending.tags.push(state.tag);
    if (state.created !== undefined && (pending.created === undefined || Date.parse(state.created) < Date.parse(pending.created))) {
      pending.created = state.created;
    }
  }
  const time = (pending: PendingImage) => (pending.created === undefined ? Infinity : Date.parse(pending.created));
  return [...byDigest.values()].sort((a, b) => time(a) - time(b));
}
