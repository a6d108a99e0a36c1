import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue } from './work-queue.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('the command line work queue', () => {
  it('never runs one key twice at once, and collapses bursts to the newest (the pipeline limits how many run)', async () => {
    const seen: string[] = [];
    let running = 0;
    let peak = 0;
    const release = gate();
    const queue = new WorkQueue<string>({
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
    assert.deepEqual(seen, ['a1', 'b1', 'c1']);
    release.open();
    await queue.idle();
    assert.equal(peak, 3);
    assert.deepEqual(seen.slice(3).sort(), ['a3', 'c2']);
  });

  it('retries with doubling backoff for as long as the task asks, past any number of attempts', async () => {
    const attempts: number[] = [];
    const started = Date.now();
    const queue = new WorkQueue<string>({
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
    assert.ok((attempts[2] ?? 0) - (attempts[1] ?? 0) >= 4, 'the second retry waits at least half its doubled step');
  });

  it('a new event for an object replaces its pending retry instead of running it again later', { timeout: 10_000 }, async () => {
    const seen: string[] = [];
    const queue = new WorkQueue<string>({
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
      process: async (item) => {
        await release.opened;
        done.push(item);
        return 'done';
      },
    });
    queue.add('a', 'a');
    // Pending behind the running one of the same key: dropped by close().
    queue.add('a', 'a again');
    const closed = queue.close();
    release.open();
    await closed;
    assert.deepEqual(done, ['a']);
    queue.add('c', 'c');
    await queue.idle();
    assert.deepEqual(done, ['a']);
  });
});
