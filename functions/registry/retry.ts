/** Bounded retries with exponential backoff and jitter for transient registry failures. */
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from './registry-error.js';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 10_000 };

export interface RetryObserver {
  (error: RegistryError, attempt: number, delayMs: number): void;
}

function isRetryable(error: unknown): error is RegistryError {
  return error instanceof RegistryError && error.kind === 'transient';
}

/**
 * Runs `operation` until it succeeds, fails for good, or attempts run out. A Retry-After
 * longer than the policy allows ends the retries: waiting belongs to whoever redelivers.
 */
export async function withRetries<T>(policy: RetryPolicy, signal: AbortSignal, operation: (attempt: number) => Promise<T>,
  onRetry?: RetryObserver): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (signal.aborted || attempt >= policy.attempts || !isRetryable(error)) throw error;
      if (error.retryAfterMs !== undefined && error.retryAfterMs > policy.maxDelayMs) throw error;
      const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = error.retryAfterMs ?? Math.round(step / 2 + (step / 2) * Math.random());
      onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) throw error;
    }
  }
}
