/**
 * The bounded record of what was submitted from one ImageStream, in its `ANNOTATIONS.submittedImages`
 * annotation, so that replays and later updates submit nothing twice. The value is JSON:
 *   {"latest":["sha256:<newest>","sha256:<older>",…],"3.3":["sha256:…"],":coveredUntil":"<RFC 3339>"}
 * - per tag, the last `perTag` digests submitted under it, newest first, so a tag moved back to an
 *   earlier image is not submitted again; a digest recorded under any tag counts for every tag;
 * - `:coveredUntil` (a colon cannot appear in a tag name) appears only once the record outgrew
 *   `maxBytes`: the oldest tags' entries were dropped, and every tag whose current item was created
 *   at or before that instant counts as submitted. Entries go oldest item first, and never above an
 *   unsubmitted tag unless nothing else fits, so the cap does not make old tags come back on every update.
 */
import { isDigest, isTag } from '../domain/image-reference.js';
import { isRecord } from '../kube/object.js';

export interface SubmittedImages {
  /** Per tag, newest first. */
  readonly tags: ReadonlyMap<string, readonly string[]>;
  readonly coveredUntil?: string;
}

/** A tag's current image, as far as the record is concerned. */
export interface TagState {
  readonly tag: string;
  readonly digest: string;
  /** RFC 3339 `created` of the tag's current item. */
  readonly created?: string;
}

export interface RecordLimits { readonly perTag: number; readonly maxBytes: number }

export const DEFAULT_RECORD_LIMITS: RecordLimits = { perTag: 5, maxBytes: 32 * 1024 };

export const EMPTY_SUBMITTED_IMAGES: SubmittedImages = { tags: new Map() };

const COVERED_UNTIL = ':coveredUntil';
/** Refuse to JSON.parse anything larger than the API server would let an object carry. */
const MAX_PARSE = 256 * 1024;

function instant(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Reads the annotation; anything malformed reads as an empty record, with the reason. */
export function parseSubmittedImages(value: string | undefined,
  limits: RecordLimits = DEFAULT_RECORD_LIMITS): { readonly record: SubmittedImages; readonly problem?: string } {
  if (value === undefined || value === '') return { record: EMPTY_SUBMITTED_IMAGES };
  const refuse = (problem: string) => ({ record: EMPTY_SUBMITTED_IMAGES, problem });
  if (value.length > MAX_PARSE) return refuse(`longer than ${MAX_PARSE} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return refuse('not JSON');
  }
  if (!isRecord(parsed)) return refuse('expected a JSON object');
  const tags = new Map<string, readonly string[]>();
  let coveredUntil: string | undefined;
  for (const [key, digests] of Object.entries(parsed)) {
    if (key === COVERED_UNTIL) {
      const ms = typeof digests === 'string' ? instant(digests) : undefined;
      if (ms === undefined) return refuse(`${COVERED_UNTIL}: expected an RFC 3339 time`);
      coveredUntil = new Date(ms).toISOString();
      continue;
    }
    if (!isTag(key)) return refuse('a key is not a tag name');
    if (!Array.isArray(digests) || digests.length === 0 || !digests.every((d) => typeof d === 'string' && isDigest(d))) {
      return refuse(`tag ${key}: expected a list of digests`);
    }
    tags.set(key, (digests as string[]).slice(0, limits.perTag));
  }
  return { record: { tags, ...(coveredUntil !== undefined ? { coveredUntil } : {}) } };
}

/** Whether `state`'s current digest counts as submitted already. */
export function isSubmitted(record: SubmittedImages, state: TagState, digests = recordedDigests(record)): boolean {
  if (digests.has(state.digest)) return true;
  const covered = instant(record.coveredUntil);
  const created = instant(state.created);
  return covered !== undefined && created !== undefined && created <= covered;
}

export function recordedDigests(record: SubmittedImages): ReadonlySet<string> {
  return new Set([...record.tags.values()].flat());
}

export interface RecordUpdate {
  /** The new annotation value. */
  readonly value: string;
  /**
   * Unsubmitted tags the size cap put under `:coveredUntil`: later events will not submit them (a forced
   * sweep still can). Empty unless the stream has far more tags than the record holds and old ones failed.
   */
  readonly abandoned: readonly string[];
}

function serialise(tags: ReadonlyMap<string, readonly string[]>, coveredUntil: string | undefined): string {
  const object: Record<string, unknown> = Object.fromEntries(tags);
  if (coveredUntil !== undefined) object[COVERED_UNTIL] = coveredUntil;
  return JSON.stringify(object);
}

const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * The annotation value after `submitted` digests went to Thoth. `current`: every tag's current image as last read;
 * tags at a submitted (or already recorded) digest are recorded, tags that left the stream are forgotten first.
 */
export function recordSubmitted(record: SubmittedImages, current: readonly TagState[], submitted: Iterable<string>,
  limits: RecordLimits = DEFAULT_RECORD_LIMITS): RecordUpdate {
  const known = new Set([...recordedDigests(record), ...submitted]);
  const tags = new Map(record.tags);
  for (const state of current) {
    if (!known.has(state.digest)) continue;
    const previous = tags.get(state.tag) ?? [];
    if (previous[0] === state.digest) continue;
    tags.set(state.tag, [state.digest, ...previous.filter((d) => d !== state.digest)].slice(0, limits.perTag));
  }
  const coveredUntil = record.coveredUntil;
  const fits = () => bytes(serialise(tags, coveredUntil)) <= limits.maxBytes;
  if (fits()) return { value: serialise(tags, coveredUntil), abandoned: [] };

  const currentTags = new Set(current.map((state) => state.tag));
  for (const tag of [...tags.keys()]) if (!currentTags.has(tag)) tags.delete(tag);
  for (let depth = limits.perTag - 1; depth >= 1 && !fits(); depth -= 1) {
    for (const [tag, digests] of tags) if (digests.length > depth) tags.set(tag, digests.slice(0, depth));
  }
  if (fits()) return { value: serialise(tags, coveredUntil), abandoned: [] };
  return coverOldest(tags, coveredUntil, current, known, limits);
}

/** Drops recorded tags oldest current item first, moving `:coveredUntil` over them: that covers the fewest unsubmitted tags. */
function coverOldest(tags: Map<string, readonly string[]>, previousCover: string | undefined, current: readonly TagState[],
  known: ReadonlySet<string>, limits: RecordLimits): RecordUpdate {
  const dated = current
    .map((state) => ({ state, ms: instant(state.created) }))
    .filter((entry): entry is { state: TagState; ms: number } => entry.ms !== undefined)
    .sort((a, b) => a.ms - b.ms);
  const entrySize = (tag: string) => bytes(JSON.stringify(tag)) + bytes(JSON.stringify(tags.get(tag) ?? [])) + 2;
  const reserve = bytes(`,${JSON.stringify(COVERED_UNTIL)}:${JSON.stringify(new Date(0).toISOString())}`);
  let total = bytes(serialise(tags, undefined)) + reserve;
  const before = instant(previousCover) ?? -Infinity;
  let cover = before;

  for (const { state, ms } of dated) {
    if (total <= limits.maxBytes && ms > cover) break;
    cover = Math.max(cover, ms);
    if (tags.has(state.tag)) {
      total -= entrySize(state.tag);
      tags.delete(state.tag);
    }
  }
  // Tags whose current item has no `created` cannot be covered; they go last, and come back.
  for (const tag of [...tags.keys()]) {
    if (total <= limits.maxBytes) break;
    total -= entrySize(tag);
    tags.delete(tag);
  }
  const abandoned = dated.filter(({ state, ms }) => ms > before && ms <= cover && !known.has(state.digest)).map(({ state }) => state.tag);

  const coveredUntil = cover > before ? new Date(cover).toISOString() : previousCover;
  return { value: serialise(tags, coveredUntil), abandoned };
}
