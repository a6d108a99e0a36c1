/**
 * CloudEvent ids derived from what an event is about, so that a consumer deduplicating on `source` + `id` (as the
 * CloudEvents spec allows) sees a redelivery, a sweep, a takeover after a crash and a retried send as one event.
 * The recipe is the README's ("Stable event ids"); consumers rely on it, so it changes only with a new id scheme.
 */
import { createHash } from 'node:crypto';

/** What an event is about: its type, the object (API path and uid: a re-created object is another) and the facts it reports. */
export interface EventFact {
  readonly type: string;
  /** The object's API path, as the event's `subject`. */
  readonly subject: string;
  /** Empty when the object could not be read. */
  readonly uid: string;
  /** JSON values, in a fixed order: e.g. the images' digests, a refusal's reason. */
  readonly facts: readonly unknown[];
}

/** 32 lowercase hex digits: the first 128 bits of SHA-256 over the UTF-8 of `JSON.stringify([type, subject, uid, ...facts])`. */
export function eventId({ type, subject, uid, facts }: EventFact): string {
  return createHash('sha256').update(JSON.stringify([type, subject, uid, ...facts]), 'utf8').digest('hex').slice(0, 32);
}
