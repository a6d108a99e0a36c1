import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Lane, limitConcurrency, NoWorkerFree } from './concurrency.js';

it('never runs more than the limit at once, and runs everything', async () => {
  const limit = limitConcurrency(3);
  let running = 0;
  let peak = 0;
  const finished: number[] = [];
  await Promise.all(Array.from({ length: 20 }, (_, i) => limit(async () => {
    running += 1;
    peak = Math.max(peak, running);
    for (let tick = 0; tick < i % 4; tick++) await Promise.resolve();
    running -= 1;
    finished.push(i);
  })));
  assert.equal(peak, 3);
  assert.equal(finished.length, 20);
});

it('frees the slot of a failed task', async () => {
  const limit = limitConcurrency(1);
  await assert.rejects(limit(() => Promise.reject(new Error('boom'))));
  assert.equal(await limit(() => Promise.resolve('next')), 'next');
});

/** A task that runs until `release()` is called. */
function held(): { task: () => Promise<string>; started: Promise<void>; release: () => void } {
  let release = (): void => {};
  let started = (): void => {};
  const running = new Promise<void>((resolve) => (started = resolve));
  const done = new Promise<void>((resolve) => (release = resolve));
  return { task: async () => { started(); await done; return 'done'; }, started: running, release };
}

it('turns a live task away at once past the queue limit, and runs the queued ones once a worker is free', async () => {
  const limit = limitConcurrency(2, { queueLimit: 3 });
  const workers = [held(), held()];
  const runningNow = workers.map((worker) => limit(worker.task));
  await Promise.all(workers.map((worker) => worker.started));
  const queued = [held(), held(), held()];
  const waiting = queued.map((task) => limit(task.task));
  await assert.rejects(limit(() => Promise.resolve('never')), (error: unknown) => error instanceof NoWorkerFree && error.why === 'queue-full' && error.kind === 'transient');
  for (const worker of [...workers, ...queued]) worker.release();
  assert.deepEqual(await Promise.all([...runningNow, ...waiting]), ['done', 'done', 'done', 'done', 'done']);
});

it('gives a freed worker to a live task before any queued background task, whenever it arrived', async () => {
  const limit = limitConcurrency(1, { queueLimit: 1 });
  const worker = held();
  const first = limit(worker.task);
  await worker.started;
  const order: string[] = [];
  // Background tasks do not count against the live queue's limit.
  const background = Array.from({ length: 5 }, (_, i) => limit(async () => { order.push(`sweep ${i}`); }, { priority: 'background' }));
  const live = limit(async () => { order.push('live'); });
  worker.release();
  await Promise.all([first, live, ...background]);
  assert.deepEqual(order, ['live', 'sweep 0', 'sweep 1', 'sweep 2', 'sweep 3', 'sweep 4']);
});

it('turns a waiting task away when its signal aborts, and the queue forgets it', async () => {
  const limit = limitConcurrency(1, { queueLimit: 1 });
  const worker = held();
  const first = limit(worker.task);
  await worker.started;
  const deadline = new AbortController();
  const late = limit(() => Promise.resolve('late'), { signal: deadline.signal });
  deadline.abort();
  await assert.rejects(late, (error: unknown) => error instanceof NoWorkerFree && error.why === 'deadline');
  // Its place in the queue is free again, and it never runs.
  const next = limit(() => Promise.resolve('next'));
  worker.release();
  assert.equal(await first, 'done');
  assert.equal(await next, 'next');
});

it('a lane holds its caller at acquire while full; a spawned task frees its slot once settled, failed or not, and drain waits for every one', async () => {
  const lane = new Lane(2);
  const tasks = [held(), held(), held()];
  const done: number[] = [];
  await lane.acquire();
  lane.spawn(async () => { await tasks[0]?.task(); done.push(0); });
  await lane.acquire();
  lane.spawn(async () => { await tasks[1]?.task(); throw new Error('counted by the task itself'); });
  let third = false;
  const waiting = lane.acquire().then(() => (third = true));
  await Promise.all([tasks[0]?.started, tasks[1]?.started]);
  assert.equal(third, false, 'no slot while two tasks run');
  tasks[1]?.release();
  await waiting;
  lane.spawn(async () => { await tasks[2]?.task(); done.push(2); });
  let drained = false;
  const draining = lane.drain().then(() => (drained = true));
  tasks[2]?.release();
  await tasks[2]?.started;
  assert.equal(drained, false, 'the first task still runs');
  tasks[0]?.release();
  await draining;
  assert.deepEqual(done.sort(), [0, 2]);
});
