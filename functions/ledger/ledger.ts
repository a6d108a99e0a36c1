/**
 * The one owner of what an object's annotations and this process's memory record about the work
 * on it, for every source kind, the sweep and the command line: admission, the claim (lease.ts,
 * timed by observers on their own clocks), the mark (pending while unwritten), and refusals.
 * One object's work has one Entry (entry.ts) from claim to mark, like one AWS Powertools
 * idempotency record from in-progress to completed.
 */
import { ANNOTATIONS } from '../domain/annotations.js';
import { BuildWatcherError, transient } from '../errors.js';
import { CONFLICT_RETRY, withRetries } from '../retry.js';
import { objectLabel, type KubeObject, type ObjectCoordinates } from '../kube/object.js';
import type { ObjectStore } from '../kube/store.js';
import { BoundedMap } from './bounded-map.js';
import { ClaimIdentity, DEFAULT_LEASE, parseClaim, type Claim, type LeaseTiming, type MonotonicClock } from './claim.js';
import { Entry, type LeaseEnded } from './entry.js';
import { Running } from './running.js';
import { HeldClaim, validFor, type HeldClaimOptions } from './lease.js';

const REFUSAL_MEMORY_MS = 10 * 60 * 1000;
/** The sweep leaves an object it saw refused alone for a day, so refused objects cannot fill every batch. */
const SWEEP_REFUSAL_RETRY_MS = 24 * 60 * 60 * 1000;

/** The object changed between our read and our claim: read it again. */
class ClaimConflict extends BuildWatcherError {
  constructor(ref: ObjectCoordinates) {
    super('transient', `${objectLabel(ref)} kept changing while being claimed`);
  }
}

export interface LedgerOptions {
  readonly store: ObjectStore;
  /** Names this process in claims, for people reading the annotation. */
  readonly hostname: string;
  readonly timing?: LeaseTiming;
  readonly clock?: MonotonicClock;
  /** The wall clock, for the times written in marks and refusals (never compared across machines for safety). */
  readonly now?: () => Date;
  /** Act without reading or writing the API (BUILD_WATCHER_TRUST_EVENT_PAYLOAD, tests only). */
  readonly readOnly?: boolean;
}

export type Opened =
  | { readonly kind: 'open'; readonly entry: Entry }
  /** Another live process holds it: come back after `until`. */
  | { readonly kind: 'busy'; readonly until: Date }
  | { readonly kind: 'ignored'; readonly reason: 'gone' | 'replaced' | 'already-submitted' };

/** `Result`: what a piece of work on one object ends with (the pipeline's Outcome). */
export class Ledger<Result = unknown> {
  readonly identity: ClaimIdentity;
  readonly timing: LeaseTiming;
  readonly now: () => Date;
  readonly #store: ObjectStore;
  readonly #clock: MonotonicClock;
  readonly readOnly: boolean;
  /** Work under way in this process: a redelivery or our own claim's echo joins it. */
  readonly #running = new Map<string, Running<Result>>();
  /** Another holder's claim value, and when this process first saw it (monotonic). */
  readonly #seen = new BoundedMap<{ readonly value: string; readonly at: number }>();
  /** Claims left on objects after a transient failure: a retry resumes them without a write. */
  readonly #left = new BoundedMap<{ readonly uid: string; readonly value: string; readonly sentAt: number }>();
  /** The claim values of our last lease on an object that ended in a mark. */
  readonly #markedClaims = new BoundedMap<{ readonly uid: string; readonly claims: ReadonlySet<string> }>();
  readonly #refusedUntil = new BoundedMap<number>();
  #warnedNoPatch = false;

  constructor(options: LedgerOptions) {
    this.#store = options.store;
    this.identity = new ClaimIdentity(options.hostname);
    this.timing = options.timing ?? DEFAULT_LEASE;
    this.#clock = options.clock ?? (() => performance.now());
    this.now = options.now ?? (() => new Date());
    this.readOnly = options.readOnly === true;
  }

  /**
   * Cheap checks on an object as an event carried it, before any API call: the reason to leave
   * it alone, or undefined to go on. `retryRefused`: the sweep tries refused objects again.
   */
  admit(key: string, object: KubeObject, options: { readonly retryRefused?: boolean } = {}): string | undefined {
    if (this.isMarked(object)) return 'already-submitted';
    const claim = parseClaim(object.annotations[ANNOTATIONS.claim], this.timing.leaseMs);
    // The echo of our own claim or renewal, arriving after we marked the object: a GET would
    // only find it marked. A lease that did not end in a mark is not remembered here.
    const marked = this.#markedClaims.get(key);
    if (claim !== undefined && marked !== undefined && marked.uid === object.uid && marked.claims.has(claim.value)) return 'marked-since';
    if (options.retryRefused !== true && this.#refusedLately(key)) return 'refused-recently';
    // The echo of another process's claim: its record is the lease itself.
    if (claim !== undefined && !this.identity.owns(claim) && this.#judge(key, claim, 'payload').busy) return 'claimed-elsewhere';
    return undefined;
  }

  /** A user removes the mark (`submitted-at`) to ask for a new analysis. */
  isMarked(object: KubeObject): boolean {
    return object.annotations[ANNOTATIONS.submittedAt] !== undefined;
  }

  sweepRefusedLately(object: KubeObject): boolean {
    const at = Date.parse(object.annotations[ANNOTATIONS.sweepRefusedAt] ?? '');
    return Number.isFinite(at) && this.now().getTime() - at < SWEEP_REFUSAL_RETRY_MS;
  }

  /** The sweep saw it refused: left alone for a day. Without patch rights the next sweep tries again. */
  async recordSweepRefusal(ref: ObjectCoordinates): Promise<void> {
    if (this.readOnly) return;
    await this.#store.patchAnnotations(ref, { [ANNOTATIONS.sweepRefusedAt]: this.now().toISOString() }).catch(() => undefined);
  }

  /** Refused in a delivery: releasing the claim causes an update event, which must not start it again. */
  rememberRefusal(key: string): void {
    this.#refusedUntil.set(key, this.now().getTime() + REFUSAL_MEMORY_MS);
  }

  /** A redelivery joins the work under way. */
  running(key: string): Running<Result> | undefined {
    return this.#running.get(key);
  }

  /** Runs `work` as the one piece of work on `key` in this process, until it settles. */
  track(key: string, work: Promise<Result>): Running<Result> {
    const running = new Running(work);
    this.#running.set(key, running);
    const forget = () => {
      if (this.#running.get(key) === running) this.#running.delete(key);
    };
    work.then(forget, forget);
    return running;
  }

  /**
   * Reads the object live and claims it, or resumes (without a write) the claim this process left on it. `claiming` is told
   * each live object whose claim is about to be written, so work that only reads (the plan) can run beside the write.
   */
  async open(key: string, ref: ObjectCoordinates, expected: { readonly uid?: string; readonly payload?: KubeObject; readonly claiming?: (live: KubeObject) => void },
    signal?: AbortSignal): Promise<Opened> {
    if (this.readOnly) {
      if (expected.payload === undefined) throw transient('reading the object is needed, but the ledger is read-only');
      return { kind: 'open', entry: new Entry(expected.payload, undefined, false, () => undefined) };
    }
    const attempt = async (): Promise<Opened> => {
      const live = await this.#store.read(ref, signal);
      if (live === undefined) return { kind: 'ignored', reason: 'gone' };
      if (expected.uid !== undefined && expected.uid !== '' && live.uid !== expected.uid) return { kind: 'ignored', reason: 'replaced' };
      if (this.isMarked(live)) return { kind: 'ignored', reason: 'already-submitted' };
      const claim = parseClaim(live.annotations[ANNOTATIONS.claim], this.timing.leaseMs);
      const left = this.#left.get(key);
      // Ours, and provably still ours: resumed without a write. A stale one is taken again.
      if (claim !== undefined && left !== undefined && left.uid === live.uid && left.value === claim.value && this.#clock() < left.sentAt + validFor(this.timing)) {
        this.#left.delete(key);
        return { kind: 'open', entry: new Entry(live, HeldClaim.resume(this.#leaseOptions(), live, claim.value, left.sentAt), false, this.#ended(key, live.uid)) };
      }
      let takeover = false;
      if (claim !== undefined && !this.identity.owns(claim)) {
        const judged = this.#judge(key, claim, 'live');
        if (judged.busy) return { kind: 'busy', until: judged.until };
        takeover = true;
      }
      expected.claiming?.(live);
      const held = await HeldClaim.take(this.#leaseOptions(), live, signal);
      if (held === 'conflict') throw new ClaimConflict(ref);
      this.#seen.delete(key);
      return { kind: 'open', entry: new Entry(live, held === 'forbidden' ? undefined : held, takeover, this.#ended(key, live.uid)) };
    };
    return withRetries(CONFLICT_RETRY, attempt, { ...(signal ? { signal } : {}), retryable: (error) => error instanceof ClaimConflict });
  }

  /** True the first time only: a Role without patch rights is warned about once per process. */
  firstNoPatchWarning(): boolean {
    const first = !this.#warnedNoPatch;
    this.#warnedNoPatch = true;
    return first;
  }

  #ended(key: string, uid: string): LeaseEnded {
    return (held, how) => {
      if (how === 'marked') this.#markedClaims.set(key, { uid, claims: new Set(held.values) });
      else this.#left.set(key, { uid, value: held.value, sentAt: held.sentAt });
    };
  }

  #refusedLately(key: string): boolean {
    const until = this.#refusedUntil.get(key);
    if (until === undefined || until > this.now().getTime()) return until !== undefined;
    this.#refusedUntil.delete(key);
    return false;
  }

  /**
   * Another holder's claim is busy until we have seen its value for the lease it declares, on our
   * monotonic clock. A payload may show a long-replaced value (the adapter delivers queued updates
   * late): it starts a count only where none runs, never restarts one read live; only a live read
   * ends in a takeover (`open` judges again).
   */
  #judge(key: string, claim: Claim, from: 'live' | 'payload'): { readonly busy: true; readonly until: Date } | { readonly busy: false } {
    const now = this.#clock();
    const seen = this.#seen.get(key);
    let since = seen?.value === claim.value ? seen.at : undefined;
    if (since === undefined) {
      since = now;
      if (from === 'live' || seen === undefined) this.#seen.set(key, { value: claim.value, at: now });
    }
    const remaining = since + claim.leaseMs - now;
    return remaining > 0 ? { busy: true, until: new Date(this.now().getTime() + remaining) } : { busy: false };
  }

  #leaseOptions(): HeldClaimOptions {
    return { store: this.#store, identity: this.identity, timing: this.timing, clock: this.#clock };
  }
}
