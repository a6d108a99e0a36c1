/**
 * The one retry policy, for every client and loop that retries: bounded attempts, exponential backoff with jitter
 * (half the step fixed, half random, so many workers do not retry in step), a server's Retry-After honoured up to the maximum.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BuildWatcherError } from './errors.js';

export interface RetryPolicy {
  /** Attempts in all, the first included (1 = no retry). */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export function validateRetryPolicy(policy: RetryPolicy): RetryPolicy {
  const { attempts, baseDelayMs, maxDelayMs } = policy;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 1000) throw new TypeError(`expected retry.attempts to be an integer from 1 to 1000, received ${attempts}`);
  if (!(baseDelayMs >= 0) || !(maxDelayMs >= baseDelayMs)) throw new TypeError(`expected 0 <= retry.baseDelayMs <= retry.maxDelayMs, received ${baseDelayMs} and ${maxDelayMs}`);
  return policy;
}

/** The wait before retry number `retry` (1-based); a Retry-After wins, capped at the maximum. */
export function backoffDelayMs(policy: RetryPolicy, retry: number, random: () => number = Math.random, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(retryAfterMs, 0), policy.maxDelayMs);
  // The exponent is bounded so a week-long outage does not overflow into Infinity.
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry - 1, 30));
  return Math.round(step / 2 + (step / 2) * random());
}

/** Retry-After as seconds or an HTTP date, in milliseconds from `now`. */
export function parseRetryAfter(header: unknown, now = Date.now()): number | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

interface RetryAfterHint { readonly retryAfterMs?: number | undefined }


export interface RetryOptions {
  readonly signal?: AbortSignal;
  /** Which failures are worth another attempt; transient ones by default. */
  readonly retryable?: (error: unknown) => boolean;
  readonly onRetry?: (error: BuildWatcherError, attempt: number, delayMs: number) => void;
  readonly random?: () => number;
}

/** A conflict resolves itself on a fresh read: tried again at once, a few times. */
export const CONFLICT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 0, maxDelayMs: 0 };

/**
 * Runs `operation` until it succeeds, fails other than transiently (or as `retryable` says), or
 * attempts run out. A Retry-After beyond the policy ends the retries: that wait is the redeliverer's.
 */
export async function withRetries<T>(policy: RetryPolicy, operation: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { signal } = options;
  const aborted = () => signal?.aborted === true;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      const retryable = options.retryable?.(error) ?? (error instanceof BuildWatcherError && error.kind === 'transient');
      if (!retryable || aborted() || attempt >= policy.attempts) throw error;
      const retryAfterMs = (error as RetryAfterHint).retryAfterMs;
      if (retryAfterMs !== undefined && retryAfterMs > policy.maxDelayMs) throw error;
      const delayMs = backoffDelayMs(policy, attempt, options.random, retryAfterMs);
      if (error instanceof BuildWatcherError) options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, undefined, signal === undefined ? {} : { signal }).catch(() => undefined);
      if (aborted()) throw error;
    }
  }
}
