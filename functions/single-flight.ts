/**
 * Work that concurrent callers share instead of repeating: while one run is in flight, every
 * other call gets its promise; once it settles, the next call starts a new run.
 */
export class SingleFlight<T> {
  #running: Promise<T> | undefined;

  /** Whether a run is in flight, which a call now would join. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** `start`'s run, or the one in flight (`start` is then not called). */
  run(start: () => Promise<T>): Promise<T> {
    this.#running ??= start().finally(() => (this.#running = undefined));
    return this.#running;
  }
}

/**
 * A value made on first use and shared, made again on the next use when making it failed: a
 * failed import or connection must not be kept for the life of the pod.
 */
export function onFirstUse<T>(make: () => Promise<T>): () => Promise<T> {
  const making = new SingleFlight<T>();
  let made: Promise<T> | undefined;
  return () => made ?? making.run(async () => (made = Promise.resolve(await make())));
}
