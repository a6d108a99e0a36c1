/**
 * A claim this process holds on one object: a short lease, renewed while the work runs, and
 * fenced. Every write under the claim carries a JSON-patch `test` of its value, so a holder that
 * lost it cannot overwrite another's work; `fence` checks before each submission that the lease
 * is still ours on the monotonic clock.
 *
 * Why the fence holds: an observer takes over only after seeing one value for a whole lease on
 * its own clock, and cannot see it before we sent it. We count from just before sending and give
 * up a sixth of the lease earlier, so, whatever the clocks' offset, our lease ends that margin
 * before anyone may take over; it covers differing clock rates and the time from fence to Thoth.
 * README: "Exactly once: the ledger, and its one stated window".
 */
import { ANNOTATIONS } from '../domain/annotations.js';
import { transient } from '../errors.js';
import { isKubeStatus } from '../kube/api.js';
import { objectLabel, type KubeObject } from '../kube/object.js';
import type { ObjectStore } from '../kube/store.js';
import { redact } from '../observability/redact.js';
import { CONFLICT_RETRY, withRetries } from '../retry.js';
import { LeaseLostError, type Annotations, type ClaimIdentity, type LeaseTiming, type MonotonicClock } from './claim.js';

/** How long after sending a value the holder may still act on it: five sixths of the lease. */
export const validFor = ({ leaseMs }: LeaseTiming): number => leaseMs - leaseMs / 6;

export interface HeldClaimOptions {
  readonly store: ObjectStore;
  readonly identity: ClaimIdentity;
  readonly timing: LeaseTiming;
  readonly clock: MonotonicClock;
}

export class HeldClaim {
  readonly #options: HeldClaimOptions;
  readonly #lost = new AbortController();
  readonly #lapsed = new AbortController();
  /** Every value this lease wrote or tried to, with when it was sent: a timed-out write may have landed. */
  readonly #sent = new Map<string, number>();
  #value: string;
  #validUntil: number;
  #latest: KubeObject;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #lapseTimer: NodeJS.Timeout | undefined;

  private constructor(options: HeldClaimOptions, latest: KubeObject, value: string, sentAt: number) {
    this.#options = options;
    this.#latest = latest;
    this.#value = value;
    this.#sent.set(value, sentAt);
    this.#validUntil = this.#validFrom(sentAt);
    this.#watchLapse();
  }

  /** Claims `live` at its resourceVersion; 'forbidden': the Role grants no patch (work goes on unclaimed). */
  static async take(options: HeldClaimOptions, live: KubeObject, signal?: AbortSignal): Promise<HeldClaim | 'conflict' | 'forbidden'> {
    const value = options.identity.next(options.timing.leaseMs);
    const sentAt = options.clock();
    try {
      const latest = await options.store.patchAnnotations(live, { [ANNOTATIONS.claim]: value }, { resourceVersion: live.resourceVersion, ...(signal ? { signal } : {}) });
      return new HeldClaim(options, latest, value, sentAt);
    } catch (error) {
      if (isKubeStatus(error, 409)) return 'conflict';
      if (isKubeStatus(error, 403)) return 'forbidden';
      throw error;
    }
  }

  /** Resumes a claim this process left on `live` (a retry of the same work): writes nothing. */
  static resume(options: HeldClaimOptions, live: KubeObject, value: string, sentAt: number): HeldClaim {
    return new HeldClaim(options, live, value, sentAt);
  }

  get latest(): KubeObject {
    return this.#latest;
  }

  get value(): string {
    return this.#value;
  }

  get sentAt(): number {
    return this.#sent.get(this.#value) ?? -Infinity;
  }

  /** Every value this lease put on the object: the update events they caused carry them. */
  get values(): readonly string[] {
    return [...this.#sent.keys()];
  }

  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** Aborted once the lease is no longer provably ours, or lost; a pending mark goes on, conditional on the claim. */
  get lapsed(): AbortSignal {
    return this.#lapsed.signal;
  }

  /** Renews every `renewMs` until stopped; a resumed claim first `renewMs` after its value was sent. */
  startRenewing(): void {
    if (this.#timer !== undefined) return;
    const { timing, clock } = this.#options;
    const renew = () => void this.renew().catch(() => undefined);
    const first = Math.max(0, this.sentAt + timing.renewMs - clock());
    this.#timer = setTimeout(() => {
      renew();
      this.#timer = setInterval(renew, timing.renewMs).unref();
    }, first).unref();
  }

  stop(): void {
    // A Timeout from setTimeout or setInterval: clearTimeout clears either.
    clearTimeout(this.#timer);
    clearTimeout(this.#lapseTimer);
    this.#timer = undefined;
  }

  /** Just before a submission: passes while the lease is provably ours, else renews it or throws. */
  async fence(signal?: AbortSignal): Promise<void> {
    if (this.#lost.signal.aborted) throw new LeaseLostError(objectLabel(this.#latest));
    if (this.#options.clock() < this.#validUntil) return;
    await this.renew(signal);
    if (this.#options.clock() >= this.#validUntil) throw transient(`renewing the claim on ${objectLabel(this.#latest)} took longer than its lease`);
  }

  renew(signal?: AbortSignal): Promise<KubeObject> {
    return this.write(() => {
      const value = this.#options.identity.next(this.#options.timing.leaseMs);
      this.#sent.set(value, this.#options.clock());
      return { [ANNOTATIONS.claim]: value };
    }, signal);
  }

  /** Removes the claim; a failure leaves it to expire. */
  async release(): Promise<void> {
    this.stop();
    await this.write(() => ({ [ANNOTATIONS.claim]: null })).catch(() => undefined);
  }

  /**
   * Patches annotations computed from the latest object, if the claim is still ours. When that
   * test fails, a re-read decides: our write landed (its answer was lost), the claim is still ours
   * (compute again), or the lease is lost.
   */
  write(compute: (latest: KubeObject) => Annotations, signal?: AbortSignal): Promise<KubeObject> {
    let tried: Annotations = {};
    const attempt = async (attempt: number): Promise<KubeObject> => {
      if (attempt > 1) {
        const fresh = await this.#options.store.read(this.#latest, signal);
        // Not found may be an API server that does not serve the kind yet: only another uid is proof.
        if (fresh === undefined) throw transient(`${objectLabel(this.#latest)} could not be read back`);
        if (fresh.uid !== this.#latest.uid) return this.#lose();
        if (carries(fresh, tried)) {
          this.#adopt(fresh);
          return fresh;
        }
        const claim = fresh.annotations[ANNOTATIONS.claim];
        if (claim === undefined || !this.#sent.has(claim)) return this.#lose();
        this.#adopt(fresh);
      }
      if (this.#lost.signal.aborted) throw new LeaseLostError(objectLabel(this.#latest));
      tried = redacted(compute(this.#latest));
      const latest = await this.#options.store.patchAnnotations(this.#latest, withoutAbsentRemovals(tried, this.#latest), {
        expect: { annotation: ANNOTATIONS.claim, value: this.#value },
        ...(signal ? { signal } : {}),
      });
      this.#adopt(latest);
      return latest;
    };
    const run = () => withRetries(CONFLICT_RETRY, attempt, { ...(signal ? { signal } : {}), retryable: (error) => isKubeStatus(error, 422) || isKubeStatus(error, 409) });
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** The object as written: its claim is still one of ours (maybe a newer one), or it is gone. */
  #adopt(latest: KubeObject): void {
    this.#latest = latest;
    const claim = latest.annotations[ANNOTATIONS.claim];
    const sentAt = claim === undefined ? undefined : this.#sent.get(claim);
    if (claim === undefined) {
      this.stop(); // marked or released
      return;
    }
    if (sentAt !== undefined && claim !== this.#value) {
      this.#value = claim;
      this.#validUntil = this.#validFrom(sentAt);
      this.#watchLapse();
    }
  }

  /** Aborts `lapsed` when the lease runs out unrenewed; a renewal moves the deadline. */
  #watchLapse(): void {
    clearTimeout(this.#lapseTimer);
    const check = () => {
      const left = this.#validUntil - this.#options.clock();
      if (left <= 0) this.#lapsed.abort();
      else this.#lapseTimer = setTimeout(check, left).unref();
    };
    this.#lapseTimer = setTimeout(check, Math.max(0, this.#validUntil - this.#options.clock())).unref();
  }

  #lose(): never {
    this.stop();
    this.#lost.abort();
    this.#lapsed.abort();
    throw new LeaseLostError(objectLabel(this.#latest));
  }

  #validFrom(sentAt: number): number {
    return sentAt + validFor(this.#options.timing);
  }
}

/** Annotations are readable by the object's author, and marks quote outside text (analysis ids): redacted before they are tried. */
function redacted(annotations: Annotations): Annotations {
  return Object.fromEntries(Object.entries(annotations).map(([key, value]) => [key, value === null ? null : redact(value)]));
}

/** A JSON-patch `remove` of a key that is not there fails: drop those, they are done already. */
function withoutAbsentRemovals(annotations: Annotations, latest: KubeObject): Annotations {
  return Object.fromEntries(Object.entries(annotations).filter(([key, value]) => value !== null || latest.annotations[key] !== undefined));
}

/** Whether `object` already shows every one of `annotations` (null: absent). */
function carries(object: KubeObject, annotations: Annotations): boolean {
  return Object.entries(annotations).every(([key, value]) => (value === null ? object.annotations[key] === undefined : object.annotations[key] === value));
}
