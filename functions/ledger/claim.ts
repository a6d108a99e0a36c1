/**
 * The claim annotation: `<holder> <seq> <lease seconds>s`, e.g. `build-watcher-5d8f-9c41e07a2b6d
 * 7 60s`. No wall-clock time: an observer times a claim from when it saw the value change, on its
 * own monotonic clock (the Kubernetes Lease convention). The holder id is unique per process and
 * `seq` grows with every write, so no two writes share a value.
 */
import { randomBytes } from 'node:crypto';
import { BuildWatcherError } from '../errors.js';

export interface Claim {
  readonly holder: string;
  /** The lease the holder declared; an observer waits that long after seeing the value. */
  readonly leaseMs: number;
  readonly value: string;
}

/** Whatever a hostile or garbled value declares, no claim blocks an object for longer. */
const MAX_LEASE_MS = 15 * 60 * 1000;
const LEASE = /^(\d{1,6})s$/;

/**
 * The claim in `value`, or undefined when there is none. A value of an older format (`<holder>
 * <expiry>`) or a garbled one counts as a claim for `defaultLeaseMs`: it is timed like any other.
 */
export function parseClaim(value: string | undefined, defaultLeaseMs: number): Claim | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const fields = value.trim().split(/\s+/);
  const declared = LEASE.exec(fields[2] ?? '')?.[1];
  const leaseMs = declared === undefined ? defaultLeaseMs : Math.min(Number(declared) * 1000, MAX_LEASE_MS);
  return { holder: fields[0] ?? '', leaseMs, value };
}

/** This process as a claim holder: its id, and the sequence of the values it writes. */
export class ClaimIdentity {
  readonly holder: string;
  #seq = 0;

  constructor(hostname: string) {
    this.holder = `${hostname}-${randomBytes(6).toString('hex')}`;
  }

  next(leaseMs: number): string {
    this.#seq += 1;
    return `${this.holder} ${this.#seq} ${Math.max(1, Math.round(leaseMs / 1000))}s`;
  }

  owns(claim: Claim | undefined): boolean {
    return claim !== undefined && claim.holder === this.holder;
  }
}

export interface LeaseTiming {
  readonly leaseMs: number;
  /** Well inside `leaseMs`. */
  readonly renewMs: number;
}

export const DEFAULT_LEASE: LeaseTiming = { leaseMs: 60_000, renewMs: 20_000 };

/** Milliseconds on a clock that never jumps (performance.now); tests may supply their own. */
export type MonotonicClock = () => number;

export type Annotations = Readonly<Record<string, string | null>>;

/** Transient: the delivery is answered 503, and its retry finds the object marked or busy. */
export class LeaseLostError extends BuildWatcherError {
  constructor(what: string) {
    super('transient', `the claim on ${what} was taken over by another process`);
    this.name = 'LeaseLostError';
  }
}
