import assert from 'node:assert/strict';
import { it } from 'node:test';
import { concurrencyLimit } from './limit.js';

it('never runs more than the limit at once, and runs everything', async () => {
  const limit = concurrencyLimit(2);
  let running = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  const task = (n: number) => limit(async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((resolve) => gates.push(resolve));
    running--;
    return n;
  });
  const results = Promise.all([1, 2, 3, 4, 5].map(task));
  while (gates.length > 0 || running > 0) {
    await new Promise((resolve) => setImmediate(resolve));
    gates.shift()?.();
  }
  assert.deepEqual(await results, [1, 2, 3, 4, 5]);
  assert.equal(peak, 2);
});
