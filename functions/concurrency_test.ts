import assert from 'node:assert/strict';
import { it } from 'node:test';
import { limitConcurrency } from './concurrency.js';

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
