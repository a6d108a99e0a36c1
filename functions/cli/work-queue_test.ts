import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retryDelayMs, WorkQueue } from './work-queue.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('the command line work queue', () => {
  it('runs at most `workers` items, never one key twice at once, and collapses bursts to the newest', async () => {
    const seen: string[] = [];
    let running = 0;
    let peak = 0;
    const release = gate();
    const queue = new WorkQueue<string>({
      workers: 2,
      process: async (item) => {
        peak = Math.max(peak, ++running);
        seen.push(item);
        await release.opened;
        running--;
        return 'done';
      },
    });
    queue.add('a', 'a1');
    queue.add('b', 'b1');
    queue.add('c', 'c1');
    queue.add('a', 'a2');
    queue.add('a', 'a3');
    queue.add('c', 'c2');
    assert.deepEqual(seen, ['a1', 'b1']);
    release.open();
    await queue.idle();
    assert.equal(peak, 2);
    assert.deepEqual(seen.slice(2).sort(), ['a3', 'c2']);
  });

  it('retries with doubling backoff for as long as the task asks, past any number of attempts', async () => {
    const attempts: number[] = [];
    const started = Date.now();
    const queue = new WorkQueue<string>({
      workers: 1,
      initialRetryMs: 5,
      maxRetryMs: 20,
      process: async () => {
        attempts.push(Date.now() - started);
        return attempts.length < 10 ? 'retry' : 'done';
      },
    });
    queue.add('x', 'x');
    await queue.idle();
    assert.equal(attempts.length, 10, 'a long outage must not make it give up');
    assert.ok((attempts[2] ?? 0) - (attempts[1] ?? 0) >= 9, 'the second retry waits twice as long');
  });

  it('caps the wait between retries at five minutes by default', () => {
    assert.deepEqual([1, 2, 3, 9].map((attempt) => retryDelayMs(attempt)), [1000, 2000, 4000, 256_000]);
    for (const attempt of [10, 11, 50, 10_000]) assert.equal(retryDelayMs(attempt), 300_000);
  });

  it('a new event for an object replaces its pending retry instead of running it again later', { timeout: 10_000 }, async () => {
    const seen: string[] = [];
    const queue = new WorkQueue<string>({
      workers: 1,
      initialRetryMs: 60_000,
      process: async (item) => {
        seen.push(item);
        return item === 'x1' ? 'retry' : 'done';
      },
    });
    queue.add('x', 'x1');
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(queue.size, 1, 'waiting to be retried');
    queue.add('x', 'x2');
    await queue.idle();
    assert.deepEqual(seen, ['x1', 'x2']);
  });

  it('close() waits for running work and drops the rest', async () => {
    const release = gate();
    const done: string[] = [];
    const queue = new WorkQueue<string>({
      workers: 1,
      process: async (item) => {
        await release.opened;
        done.push(item);
        return 'done';
      },
    });
    queue.add('a', 'a');
    queue.add('b', 'b');
    const closed = queue.close();
    release.open();
    await closed;
    assert.deepEqual(done, ['a']);
    queue.add('c', 'c');
    await queue.idle();
    assert.deepEqual(done, ['a']);
  });
});
