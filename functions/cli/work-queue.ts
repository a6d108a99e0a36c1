/**
 * The command line's work queue, keyed by object: at most `workers` objects are processed at
 * once, never the same object twice at once, and a burst of events for one object collapses
 * into one pending item (the newest). A task answering `retry` is queued again after an
 * exponential backoff, up to `maxAttempts`; then `onGiveUp` hears of it.
 */
export interface WorkQueueOptions<T> {
  readonly workers: number;
  readonly process: (item: T) => Promise<'done' | 'retry'>;
  readonly maxAttempts?: number;
  readonly initialRetryMs?: number;
  readonly maxRetryMs?: number;
  readonly onGiveUp?: (key: string, item: T) => void;
}

export class WorkQueue<T> {
  readonly #options: WorkQueueOptions<T>;
  readonly #pending = new Map<string, T>();
  readonly #running = new Set<string>();
  readonly #attempts = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #idle = new Set<() => void>();
  #closed = false;

  constructor(options: WorkQueueOptions<T>) {
    this.#options = options;
  }

  /** Queues `item`, replacing an older pending item of the same key. */
  add(key: string, item: T): void {
    if (this.#closed) return;
    this.#pending.set(key, item);
    this.#attempts.delete(key);
    this.#pump();
  }

  get size(): number {
    return this.#pending.size + this.#running.size + this.#timers.size;
  }

  /** Stops taking work and drops retries not yet due; resolves when running tasks are done. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#pending.clear();
    await this.idle();
  }

  /** Resolves once nothing is pending, running or waiting to be retried. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  #pump(): void {
    for (const [key, item] of this.#pending) {
      if (this.#running.size >= this.#options.workers) break;
      if (this.#running.has(key)) continue;
      this.#pending.delete(key);
      this.#running.add(key);
      void this.#run(key, item);
    }
    if (this.size === 0) {
      for (const resolve of this.#idle) resolve();
      this.#idle.clear();
    }
  }

  async #run(key: string, item: T): Promise<void> {
    let result: 'done' | 'retry';
    try {
      result = await this.#options.process(item);
    } catch {
      result = 'retry';
    }
    this.#running.delete(key);
    if (result === 'retry' && !this.#closed && !this.#pending.has(key)) this.#retryLater(key, item);
    this.#pump();
  }

  #retryLater(key: string, item: T): void {
    const attempt = (this.#attempts.get(key) ?? 0) + 1;
    if (attempt >= (this.#options.maxAttempts ?? 6)) {
      this.#attempts.delete(key);
      this.#options.onGiveUp?.(key, item);
      return;
    }
    this.#attempts.set(key, attempt);
    const delay = Math.min(this.#options.maxRetryMs ?? 60_000, (this.#options.initialRetryMs ?? 1000) * 2 ** (attempt - 1));
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#closed || this.#pending.has(key)) return this.#pump();
      this.#pending.set(key, item);
      this.#pump();
    }, delay);
    this.#timers.add(timer);
  }
}
