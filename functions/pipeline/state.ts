/**
 * What one process remembers between deliveries, created by the wiring and passed in, so that
 * every test (and every replica) has its own.
 */
import { randomBytes } from 'node:crypto';
import type { BuiltImage } from '../domain/built-image.js';
import type { Outcome, SubmittedImage } from './outcome.js';

/** Submitted, but the mark did not land: the next delivery only marks, never resubmits. */
export interface PendingMark {
  readonly uid: string;
  readonly submitted: readonly SubmittedImage[];
  readonly refused: readonly BuiltImage[];
  readonly outcome: Outcome;
}

const MEMORY_SIZE = 1000;
const REFUSAL_MEMORY_MS = 10 * 60 * 1000;

/** A Map that forgets its oldest entry beyond `MEMORY_SIZE`: memory stays bounded. */
class BoundedMap<V> extends Map<string, V> {
  override set(key: string, value: V): this {
    this.delete(key);
    if (this.size >= MEMORY_SIZE) this.delete(this.keys().next().value ?? '');
    return super.set(key, value);
  }
}

export class PipelineState {
  /** Names this process in claims, for people reading the annotation. */
  readonly holder: string;
  /**
   * Objects worked on right now. A Broker redelivers when an attempt outlives its timeout, and
   * our own claim patches cause update events: those must not start the work a second time.
   */
  readonly inProgress = new Map<string, Promise<Outcome>>();
  /** Submitted but not yet marked, by object key. */
  readonly pendingMarks = new BoundedMap<PendingMark>();
  /**
   * Objects refused lately, until when. Releasing the claim after a refusal causes an update
   * event, which would otherwise submit, be refused and release again, for ever.
   */
  readonly #refusedUntil = new BoundedMap<number>();
  /** Per object key: the claims of this process's last lease on it that ended in a mark. */
  readonly #markedClaims = new BoundedMap<{ readonly uid: string; readonly claims: ReadonlySet<string> }>();
  #warnedNoPatch = false;

  constructor(hostname = process.env['HOSTNAME'] ?? 'build-watcher') {
    this.holder = `${hostname}-${randomBytes(4).toString('hex')}`;
  }

  refusedLately(key: string, now: number): boolean {
    const until = this.#refusedUntil.get(key);
    if (until === undefined || until > now) return until !== undefined;
    this.#refusedUntil.delete(key);
    return false;
  }

  rememberRefusal(key: string, now: number): void {
    this.#refusedUntil.set(key, now + REFUSAL_MEMORY_MS);
  }

  /** The lease whose `claims` these were has ended with the object marked by this process. */
  rememberMarked(key: string, uid: string, claims: readonly string[]): void {
    this.#markedClaims.set(key, { uid, claims: new Set(claims) });
  }

  /**
   * Whether `claim`, seen on the object `uid`, is one of a lease this process has since ended by
   * marking the object: the event showing it is older than that mark.
   */
  markedSince(key: string, uid: string, claim: string | undefined): boolean {
    const marked = this.#markedClaims.get(key);
    return claim !== undefined && marked !== undefined && marked.uid === uid && marked.claims.has(claim);
  }

  /** True the first time only: a Role without patch rights is warned about once per process. */
  firstNoPatchWarning(): boolean {
    const first = !this.#warnedNoPatch;
    this.#warnedNoPatch = true;
    return first;
  }
}
