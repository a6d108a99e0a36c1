/**
 * Work under way on one object, and the deliveries waiting for it. A delivery that gave up first
 * (its deadline passed while a mark was retried) leaves the outcome to the next redelivery that
 * joins, so the reply goes out once.
 */
import { unlessAborted } from '../concurrency.js';
import { transient } from '../errors.js';

export class Running<T> {
  readonly #work: Promise<T>;
  #answered = false;

  constructor(work: Promise<T>) {
    this.#work = work;
    // Whoever waits sees a failure; nobody waiting must not make it unhandled.
    work.catch(() => undefined);
  }

  /** The delivery that started the work: its outcome, unless `signal` ends the wait first. */
  async answer(signal: AbortSignal): Promise<T> {
    let gaveUp = false;
    // Registered before any joiner's wait: if this delivery is still waiting, the outcome is its.
    this.#work.then(
      () => (this.#answered ||= !gaveUp),
      () => undefined,
    );
    try {
      return await this.#wait(signal);
    } catch (error) {
      gaveUp = true;
      throw error;
    }
  }

  /** A delivery that found the work under way; an outcome `once` (a submission) goes only to the first. */
  async join(signal: AbortSignal | undefined, once: (outcome: T) => boolean): Promise<T | undefined> {
    let outcome: T;
    try {
      outcome = await this.#wait(signal);
    } catch {
      throw transient('failed in a concurrent delivery, or still under way');
    }
    if (!once(outcome)) return outcome;
    if (this.#answered) return undefined;
    this.#answered = true;
    return outcome;
  }

  #wait(signal: AbortSignal | undefined): Promise<T> {
    const ended = () => transient('the delivery ended before the work did; it goes on, and a redelivery joins it');
    return unlessAborted(this.#work, signal, ended);
  }
}
