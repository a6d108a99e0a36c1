import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkQueue } from './work-queue.js';

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

  it('retries with backoff, then gives up and says so', async () => {
    const attempts: number[] = [];
    const gaveUp: string[] = [];
    const started = Date.now();
    const queue = new WorkQueue<string>({
      workers: 1,
      maxAttempts: 3,
      initialRetryMs: 5,
      process: async () => {
        attempts.push(Date.now() - started);
        return 'retry';
      },
      onGiveUp: (key) => gaveUp.push(key),
    });
    queue.add('x', 'x');
    await queue.idle();
    assert.equal(attempts.length, 3);
    assert.ok((attempts[2] ?? 0) - (attempts[1] ?? 0) >= 9, 'the second retry waits twice as long');
    assert.deepEqual(gaveUp, ['x']);
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
