/**
 * Claims as short leases. Before submitting, a process writes `<holder> <expiry>` into the
 * claim annotation with an optimistic-concurrency patch, so that two deliveries racing on two
 * replicas submit once; it renews the lease while the work runs, however long a copy takes,
 * and every later patch (renewal, mark, release) goes through the same queue with the latest
 * resourceVersion. A holder that dies stops renewing: its claim expires within one lease, and
 * the next delivery or sweep takes over.
 */
import { ANNOTATIONS } from '../domain/annotations.js';
import { isKubeStatus } from '../kube/api.js';
import type { KubeObject } from '../kube/object.js';
import type { ObjectStore } from '../kube/store.js';

export interface LeaseTiming {
  /** How long a claim holds without renewal. */
  readonly leaseMs: number;
  /** How often a live holder renews it (well inside `leaseMs`). */
  readonly renewMs: number;
}

export const DEFAULT_LEASE: LeaseTiming = { leaseMs: 60_000, renewMs: 20_000 };

export type ClaimState =
  | { readonly state: 'free' }
  | { readonly state: 'ours' }
  /** Another holder's, unexpired. */
  | { readonly state: 'busy'; readonly holder: string; readonly until: Date }
  /** Another holder's, expired: that holder died or gave up mid-way. */
  | { readonly state: 'expired'; readonly holder: string };

export function claimState(object: KubeObject, holder: string, now: Date): ClaimState {
  const claim = object.annotations[ANNOTATIONS.claim];
  if (claim === undefined || claim === '') return { state: 'free' };
  const [owner = '', expiry = ''] = claim.split(' ');
  if (owner === holder) return { state: 'ours' };
  const until = Date.parse(expiry);
  if (Number.isFinite(until) && until > now.getTime()) return { state: 'busy', holder: owner, until: new Date(until) };
  return { state: 'expired', holder: owner };
}

const MAX_CONFLICTS = 3;

export class Lease {
  readonly #store: ObjectStore;
  readonly #holder: string;
  readonly #timing: LeaseTiming;
  readonly #lost = new AbortController();
  /** Every claim value this lease wrote or tried to write (a timed-out patch may have landed). */
  readonly #claims: string[] = [];
  #latest: KubeObject;
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  private constructor(store: ObjectStore, holder: string, timing: LeaseTiming, latest: KubeObject) {
    this.#store = store;
    this.#holder = holder;
    this.#timing = timing;
    this.#latest = latest;
  }

  /**
   * Claims `live` at the resourceVersion it was read at: 'conflict' when it changed meanwhile,
   * 'forbidden' when the Role grants no patch (the work then goes on unclaimed).
   */
  static async take(store: ObjectStore, live: KubeObject, holder: string, timing: LeaseTiming, signal?: AbortSignal): Promise<Lease | 'conflict' | 'forbidden'> {
    const claim = claimValue(holder, timing);
    try {
      const latest = await store.patchAnnotations(live, { [ANNOTATIONS.claim]: claim }, {
        resourceVersion: live.resourceVersion,
        ...(signal ? { signal } : {}),
      });
      const lease = new Lease(store, holder, timing, latest);
      lease.#claims.push(claim);
      lease.#timer = setInterval(() => void lease.#renew(), timing.renewMs);
      lease.#timer.unref();
      return lease;
    } catch (error) {
      if (isKubeStatus(error, 409)) return 'conflict';
      if (isKubeStatus(error, 403)) return 'forbidden';
      throw error;
    }
  }

  /** The object as the last patch left it. */
  get latest(): KubeObject {
    return this.#latest;
  }

  /** The claim values this lease has put on the object: the update events they caused carry them. */
  get claims(): readonly string[] {
    return this.#claims;
  }

  /** Aborted when another holder took the object over: the work must stop submitting. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /**
   * Patches annotations computed from the latest object, at its resourceVersion; on a conflict
   * the object is read again and, while the claim is still ours, they are computed again.
   */
  update(annotations: (latest: KubeObject) => Readonly<Record<string, string | null>>, signal?: AbortSignal): Promise<KubeObject> {
    const run = async (): Promise<KubeObject> => {
      for (let attempt = 1; ; attempt++) {
        try {
          this.#latest = await this.#store.patchAnnotations(this.#latest, annotations(this.#latest), {
            resourceVersion: this.#latest.resourceVersion,
            ...(signal ? { signal } : {}),
          });
          return this.#latest;
        } catch (error) {
          if (!isKubeStatus(error, 409) || attempt >= MAX_CONFLICTS) throw error;
          const fresh = await this.#store.read(this.#latest, signal);
          if (fresh === undefined || claimState(fresh, this.#holder, new Date()).state !== 'ours') {
            this.#lost.abort();
            throw error;
          }
          this.#latest = fresh;
        }
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Stops renewing; the claim stays until it expires or a mark or release removes it. */
  stop(): void {
    clearInterval(this.#timer);
  }

  /** Stops renewing and removes the claim; a failure leaves it to expire. */
  async release(): Promise<void> {
    this.stop();
    await this.update(() => ({ [ANNOTATIONS.claim]: null })).catch(() => undefined);
  }

  async #renew(): Promise<void> {
    const claim = claimValue(this.#holder, this.#timing);
    this.#claims.push(claim);
    await this.update(() => ({ [ANNOTATIONS.claim]: claim })).catch(() => {
      // A renewal that failed is tried again at the next tick, well before the lease ends.
    });
  }
}

function claimValue(holder: string, timing: LeaseTiming): string {
  return `${holder} ${new Date(Date.now() + timing.leaseMs).toISOString()}`;
}
