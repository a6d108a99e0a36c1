import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onFirstUse, SingleFlight } from './single-flight.js';

/** A run the test settles by hand, counting how often it was started. */
function controlled<T>() {
  let settle: { resolve: (value: T) => void; reject: (error: Error) => void } | undefined;
  const counter = { starts: 0 };
  const start = () => {
    counter.starts += 1;
    return new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
  };
  const current = () => {
    if (settle === undefined) throw new Error('not started');
    return settle;
  };
  return { start, counter, resolve: (value: T) => current().resolve(value), reject: (error: Error) => current().reject(error) };
}

describe('SingleFlight', () => {
  it('gives calls during a run that run, and starts a new one once it settled', async () => {
    const flight = new SingleFlight<number>();
    const work = controlled<number>();
    const first = flight.run(work.start);
    const second = flight.run(work.start);
    assert.equal(flight.running, true);
    work.resolve(1);
    assert.deepEqual(await Promise.all([first, second]), [1, 1]);
    assert.equal(work.counter.starts, 1);
    assert.equal(flight.running, false);
    const third = flight.run(work.start);
    work.resolve(2);
    assert.equal(await third, 2);
    assert.equal(work.counter.starts, 2);
  });

  it('shares a failure with every caller of that run, and forgets it', async () => {
    const flight = new SingleFlight<number>();
    const work = controlled<number>();
    const calls = [flight.run(work.start), flight.run(work.start)];
    work.reject(new Error('down'));
    for (const call of calls) await assert.rejects(call, /down/);
    assert.equal(flight.running, false);
    const retried = flight.run(work.start);
    work.resolve(3);
    assert.equal(await retried, 3);
    assert.equal(work.counter.starts, 2);
  });
});

describe('onFirstUse', () => {
  it('makes the value once for concurrent and later callers', async () => {
    const work = controlled<string>();
    const value = onFirstUse(work.start);
    const early = [value(), value()];
    work.resolve('client');
    assert.deepEqual(await Promise.all(early), ['client', 'client']);
    assert.equal(await value(), 'client');
    assert.equal(work.counter.starts, 1);
  });

  it('makes it again after a failure, never keeping the failure', async () => {
    const work = controlled<string>();
    const value = onFirstUse(work.start);
    const failed = value();
    work.reject(new Error('import failed'));
    await assert.rejects(failed, /import failed/);
    const again = value();
    work.resolve('client');
    assert.equal(await again, 'client');
    assert.equal(await value(), 'client');
    assert.equal(work.counter.starts, 2);
  });
});
