import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  /** What is awaited, for the error message. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Extra detail for the timeout error (e.g. a process's last log lines). */
  onTimeout?: () => string;
}

/**
 * Polls `check` until it returns something other than undefined, or the deadline passes.
 * Errors thrown by `check` count as "not yet" and the last one is reported on timeout.
 */
export async function waitFor<T>(check: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      const extra = options.onTimeout ? `\n${options.onTimeout()}` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${cause}${extra}`);
    }
    await delay(options.intervalMs ?? 100);
  }
}

/** What `promise` settles with, or an error once `timeoutMs` has passed: for a call that must not hang. */
export async function within<T>(promise: Promise<T>, options: { what: string; timeoutMs: number }): Promise<T> {
  const timer = new AbortController();
  const expired = delay(options.timeoutMs, undefined, { signal: timer.signal }).then(() => {
    throw new Error(`${options.what} took longer than ${options.timeoutMs} ms`);
  });
  expired.catch(() => undefined);
  try {
    return await Promise.race([promise, expired]);
  } finally {
    timer.abort();
  }
}
