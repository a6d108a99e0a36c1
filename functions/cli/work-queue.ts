/**
 * The command line's work queue, keyed by object: never the same object twice at once (the pipeline's worker limit bounds how
 * many run), and a burst of events for one object collapses into one pending item (the newest). A task answering `retry` is
 * queued again after an exponential backoff capped at `maxRetryMs`, for as long as it answers `retry`: a Thoth or API server
 * outage of any length must not lose the objects that finished meanwhile.
 */
import { backoffDelayMs } from '../retry.js';

export interface WorkQueueOptions<T> {
  readonly process: (item: T) => Promise<'done' | 'retry'>;
  readonly initialRetryMs?: number;
  readonly maxRetryMs?: number;
}

const DEFAULT_INITIAL_RETRY_MS = 1000;
const DEFAULT_MAX_RETRY_MS = 5 * 60 * 1000;

export class WorkQueue<T> {
  readonly #options: WorkQueueOptions<T>;
  readonly #pending = new Map<string, T>();
  readonly #running = new Set<string>();
  readonly #attempts = new Map<string, number>();
  readonly #retries = new Map<string, NodeJS.Timeout>();
  readonly #idle = new Set<() => void>();
  #closed = false;

  constructor(options: WorkQueueOptions<T>) { this.#options = options; }

  /** Queues `item` now, replacing an older pending item of the same key and its retry. */
  add(key: string, item: T): void {
    if (this.#closed) return;
    this.#cancelRetry(key);
    this.#pending.set(key, item);
    this.#attempts.delete(key);
    this.#pump();
  }

  get size(): number { return this.#pending.size + this.#running.size + this.#retries.size; }

  /** Stops taking work and drops retries not yet due; resolves when running tasks are done. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
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
    else if (result === 'done' && !this.#pending.has(key)) this.#attempts.delete(key);
    this.#pump();
  }

  #retryLater(key: string, item: T): void {
    const attempt = (this.#attempts.get(key) ?? 0) + 1;
    this.#attempts.set(key, attempt);
    const policy = { attempts: 1, baseDelayMs: this.#options.initialRetryMs ?? DEFAULT_INITIAL_RETRY_MS, maxDelayMs: this.#options.maxRetryMs ?? DEFAULT_MAX_RETRY_MS };
    const delay = backoffDelayMs(policy, attempt);
    const timer = setTimeout(() => {
      this.#retries.delete(key);
      this.#pending.set(key, item);
      this.#pump();
    }, delay);
    this.#retries.set(key, timer);
  }

  #cancelRetry(key: string): void {
    const timer = this.#retries.get(key);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#retries.delete(key);
  }
}
