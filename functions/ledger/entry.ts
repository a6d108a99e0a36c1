/**
 * One object's work, from claim to mark. The claim ends marked (`close`), released, or left to
 * expire after a transient failure (`leave`; a retry here resumes it unwritten). A mark that fails
 * after Thoth accepted keeps the claim renewed while it is retried, so no other replica submits
 * the object while this process lives and reaches the API server.
 */
import { ANNOTATIONS } from '../domain/annotations.js';
import { objectLabel, type KubeObject } from '../kube/object.js';
import { lostLeaseSubmissions } from '../observability/metrics.js';
import { withRetries } from '../retry.js';
import { LeaseLostError, type Annotations } from './claim.js';
import type { HeldClaim } from './lease.js';

/** For the ledger's memory: marked (its echoes are ours), or left to expire. */
export type LeaseEnded = (held: HeldClaim, how: 'marked' | 'left') => void;

/** A pending mark is retried for as long as the process lives and holds the claim (about 2.7 h). */
const MARK_RETRY = { attempts: 1000, baseDelayMs: 250, maxDelayMs: 10_000 };

export class Entry {
  readonly #ended: LeaseEnded;
  readonly #held: HeldClaim | undefined;
  /** As read live when the entry opened. */
  readonly object: KubeObject;
  /** Taken over from a holder whose claim expired: it may have submitted before it died. */
  readonly takeover: boolean;

  constructor(object: KubeObject, held: HeldClaim | undefined, takeover: boolean, ended: LeaseEnded) {
    this.#ended = ended;
    this.object = object;
    this.#held = held;
    this.takeover = takeover;
    held?.startRenewing();
  }

  /** False without patch rights (or read-only): the work goes on unclaimed, and is not marked. */
  get claimed(): boolean {
    return this.#held !== undefined;
  }

  get lapsed(): AbortSignal | undefined {
    return this.#held?.lapsed;
  }

  get latest(): KubeObject {
    return this.#held?.latest ?? this.object;
  }

  async fence(signal?: AbortSignal): Promise<void> {
    await this.#held?.fence(signal);
  }

  /**
   * Marks the object done and removes the claim, if still ours. `marks` must be stable (one
   * timestamp, taken once) so a mark that landed with its answer lost is recognised. With
   * `submitted`, the mark is retried under the claim until it lands or the claim is lost.
   */
  async close(marks: (latest: KubeObject) => Annotations, options: { readonly submitted: boolean; readonly signal?: AbortSignal }): Promise<void> {
    const held = this.#held;
    if (held === undefined) return;
    const write = () => held.write((latest) => ({ ...marks(latest), [ANNOTATIONS.claim]: null }), options.submitted ? undefined : options.signal);
    try {
      // Whatever fails (a 404 or 403 from an API server still starting included), a submitted
      // object's mark is retried until it lands or the claim is another's: given up, the object
      // would be submitted again.
      await (options.submitted ? withRetries(MARK_RETRY, write, { signal: held.lost, retryable: (error) => !(error instanceof LeaseLostError) }) : write());
      this.#ended(held, 'marked');
    } catch (error) {
      // A renewal may have found the claim lost first: the mark's retries then end on their own failure.
      if (!held.lost.aborted) {
        this.leave();
        throw error;
      }
      if (options.submitted) lostLeaseSubmissions.inc({ kind: this.object.kind });
      throw error instanceof LeaseLostError ? error : new LeaseLostError(objectLabel(this.object));
    } finally {
      held.stop();
    }
  }

  async release(): Promise<void> {
    await this.#held?.release();
  }

  leave(): void {
    if (this.#held === undefined) return;
    this.#held.stop();
    if (!this.#held.lost.aborted) this.#ended(this.#held, 'left');
  }
}
