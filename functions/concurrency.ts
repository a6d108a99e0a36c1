/**
 * A counting semaphore: at most `limit` tasks run at once, the rest wait in order. Bounds the
 * objects worked on at once (THOTH_BUILD_WATCHER_WORKERS) and the copier's blobs in flight.
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

export interface LimiterOptions {
  /** Live tasks allowed to wait; default unbounded. */
  readonly queueLimit?: number;
  /** Told every time a queue grows or shrinks (a metric, a test waiting for a queue to fill). */
  readonly onQueueChange?: (priority: Priority, waiting: number) => void;
}

export function limitConcurrency(limit: number, { queueLimit = Infinity, onQueueChange }: LimiterOptions = {}): Limiter {
  let running = 0;
  const waiting: Record<Priority, (() => void)[]> = { live: [], background: [] };
  const changed = (priority: Priority): void => onQueueChange?.(priority, waiting[priority].length);
  // A finishing task hands its slot straight to the next waiter, so no newcomer can slip in between.
  const release = (): void => {
    const priority = waiting.live.length > 0 ? 'live' : 'background';
    const next = waiting[priority].shift();
    if (next === undefined) running -= 1;
    else {
      changed(priority);
      next();
    }
  };
  const slot = (priority: Priority, signal: AbortSignal | undefined): Promise<void> => {
    const queue = waiting[priority];
    if (priority === 'live' && queue.length >= queueLimit) {
      return Promise.reject(new NoWorkerFree('queue-full', `all ${limit} workers are busy and ${queue.length} deliveries wait: try again later`));
    }
    if (signal?.aborted === true) return Promise.reject(new NoWorkerFree('deadline', 'no worker became free before the delivery deadline'));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const at = queue.indexOf(granted);
        if (at < 0) return;
        queue.splice(at, 1);
        changed(priority);
        reject(new NoWorkerFree('deadline', `no worker of ${limit} became free in time: try again later`));
      };
      const granted = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(granted);
      changed(priority);
    });
  };
  return async <T>(task: () => Promise<T>, options: LimitOptions = {}): Promise<T> => {
    if (running >= limit) await slot(options.priority ?? 'live', options.signal);
    else running += 1;
    try {
      return await task();
    } finally {
      release();
    }
  };
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
