/**
 * The probes a pod is judged by, through the real faas-js-runtime: an event loop that lags (a
 * burst, a CPU-starved node) must not get the container restarted mid-work. Readiness may say
 * busy; liveness must not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../harness/wait.js';
import { startFunction, type RunningFunction } from './run-function.js';

/** How long each injected stall lasts: well past the runtime's 42 ms lag limit. */
const STALL_MS = 150;

async function status(url: string): Promise<number> {
  return (await fetch(url, { signal: AbortSignal.timeout(30_000) })).status;
}

describe('health probes while the event loop lags', { timeout: 120_000 }, () => {
  let fn: RunningFunction & { readonly process: { readonly pid?: number | undefined } };

  before(async () => {
    fn = await startFunction({ env: { THOTH_USER_API_HOST: '', BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1' } });
  });

  after(async () => {
    if (fn?.process.pid !== undefined) process.kill(fn.process.pid, 'SIGCONT');
    await fn?.stop();
  });

  it('liveness stays 200 while readiness answers 503, logging no error', async () => {
    const pid = fn.process.pid;
    assert.ok(pid !== undefined);
    const stalls: { ready: number; live: readonly number[] }[] = [];
    // The fault: the process stopped for STALL_MS with the probes waiting, as often as it takes
    // for readiness to notice the lag at least once (counted, not timed). A liveness probe goes
    // before and after the readiness probe, so one of them meets the state readiness met.
    const deadline = Date.now() + 60_000;
    while (!stalls.some((stall) => stall.ready === 503) && Date.now() < deadline) {
      process.kill(pid, 'SIGSTOP');
      const before = status(`${fn.url}/health/liveness`);
      const ready = status(`${fn.url}/health/readiness`);
      const after = status(`${fn.url}/health/liveness`);
      await delay(STALL_MS);
      process.kill(pid, 'SIGCONT');
      stalls.push({ ready: await ready, live: await Promise.all([before, after]) });
    }
    assert.ok(stalls.some((stall) => stall.ready === 503), `readiness never saw the lag in ${stalls.length} stalls`);
    assert.deepEqual(stalls.filter((stall) => stall.live.some((live) => live !== 200)), [], 'liveness failed during a stall');
    // "Not ready" is an answer, not an error: the runtime's own check used to throw here (res.setHeader on Fastify's reply).
    // The process logs a request's completion after anything it logged for it, so the lines are read once that is in.
    await waitFor(async () => (fn.lines.some((line) => line.includes('"statusCode":503') && line.includes('request completed')) ? true : undefined),
      { what: 'the 503 readiness answer logged', timeoutMs: 30_000 });
    assert.deepEqual(fn.lines.filter((line) => /"level":(50|60)|setHeader/.test(line)), [], 'readiness logged an error');
  });
});
