/**
 * The one bounded lane: at most `limit` tasks hold a slot at once, the rest wait in order. It bounds the objects
 * worked on at once (THOTH_BUILD_WATCHER_WORKERS), the copier's blobs in flight, and the sweep's picked objects and
 * hand-off sends (functions/sweep/sweep.ts), so what waits is never more than the lane's limit.
 *
 * Two queues: `live` tasks (a delivery someone waits on) always go before `background` ones (a
 * sweep's picked objects), so a live event never waits behind a sweep. Only `live` waiters count
 * against `queueLimit`: past it a live task is turned away at once, and so is one whose `signal`
 * aborts while it waits. Background waiters are bounded by whoever queues them (the sweep's batch).
 */
import { BuildWatcherError } from './errors.js';

export type Priority = 'live' | 'background';

export interface LimitOptions {
  readonly priority?: Priority;
  /** Aborting it while the task still waits for a slot turns the task away. */
  readonly signal?: AbortSignal;
}

export type Limiter = <T>(task: () => Promise<T>, options?: LimitOptions) => Promise<T>;

/** Transient: no worker became free for it (`queue-full` at once, or `deadline` after waiting); a redelivery may find one. */
export class NoWorkerFree extends BuildWatcherError {
  readonly why: 'queue-full' | 'deadline';

  constructor(why: 'queue-full' | 'deadline', message: string) {
    super('transient', message);
    this.why = why;
  }
}

export interface LaneOptions {
  /** Live tasks allowed to wait; default unbounded. */
  readonly queueLimit?: number;
  /** Told every time a queue grows or shrinks (a metric, a test waiting for a queue to fill). */
  readonly onQueueChange?: (priority: Priority, waiting: number) => void;
}

export class Lane {
  #held = 0;
  readonly #waiting: Record<Priority, (() => void)[]> = { live: [], background: [] };
  /** Tasks `spawn` started and nobody awaits: `drain` waits for them. */
  readonly #spawned = new Set<Promise<void>>();

  constructor(private readonly limit: number, private readonly options: LaneOptions = {}) {}

  /** Resolves once a slot is the caller's, to keep until `release`. */
  async acquire({ priority = 'live', signal }: LimitOptions = {}): Promise<void> {
    if (!this.#take()) await this.#wait(priority, signal);
  }

  /** A freed slot goes straight to the next waiter, so no newcomer can slip in between. */
  release(): void {
    const priority = this.#waiting.live.length > 0 ? 'live' : 'background';
    const next = this.#waiting[priority].shift();
    if (next === undefined) this.#held -= 1;
    else {
      this.#changed(priority);
      next();
    }
  }

  async run<T>(task: () => Promise<T>, { priority = 'live', signal }: LimitOptions = {}): Promise<T> {
    // A free slot starts the task at once, in this very call.
    if (!this.#take()) await this.#wait(priority, signal);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Runs `task` in the slot the caller acquired, without waiting for it; the task counts its own failures, one thrown anyway is dropped. */
  spawn(task: () => Promise<void>): void {
    const running: Promise<void> = task().catch(() => {}).finally(() => {
      this.#spawned.delete(running);
      this.release();
    });
    this.#spawned.add(running);
  }

  async drain(): Promise<void> {
    while (this.#spawned.size > 0) await Promise.all(this.#spawned);
  }

  #take(): boolean {
    if (this.#held >= this.limit) return false;
    this.#held += 1;
    return true;
  }

  #changed(priority: Priority): void {
    this.options.onQueueChange?.(priority, this.#waiting[priority].length);
  }

  #wait(priority: Priority, signal: AbortSignal | undefined): Promise<void> {
    const queue = this.#waiting[priority];
    if (priority === 'live' && queue.length >= (this.options.queueLimit ?? Infinity)) {
      return Promise.reject(new NoWorkerFree('queue-full', `all ${this.limit} workers are busy and ${queue.length} deliveries wait: try again later`));
    }
    if (signal?.aborted === true) return Promise.reject(new NoWorkerFree('deadline', 'no worker became free before the delivery deadline'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = queue.indexOf(granted);
        if (at < 0) return;
        queue.splice(at, 1);
        this.#changed(priority);
        reject(new NoWorkerFree('deadline', `no worker of ${this.limit} became free in time: try again later`));
      };
      const granted = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(granted);
      this.#changed(priority);
    });
  }
}

/** A lane's `run`, for those that only run tasks in it. */
export function limitConcurrency(limit: number, options: LaneOptions = {}): Limiter {
  const lane = new Lane(limit, options);
  return (task, options) => lane.run(task, options);
}

/** `work`'s outcome, or `aborted()` thrown once `signal` aborts first; the work itself goes on. */
export async function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, aborted: () => Error): Promise<T> {
  if (signal === undefined) return work;
  if (signal.aborted) throw aborted();
  let onAbort: (() => void) | undefined;
  const abort = new Promise<never>((_, reject) => {
    onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, abort]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}
