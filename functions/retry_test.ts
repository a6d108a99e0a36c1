import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { transient, refused } from './errors.js';
import { RegistryError } from './registry/registry-error.js';
import { backoffDelayMs, parseRetryAfter, withRetries } from './retry.js';

const where = { registry: 'reg.example', repository: 'ns/app' };
const policy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 50 };

describe('withRetries: the one retry policy', () => {
  it('retries transient failures, then succeeds', async () => {
    let calls = 0;
    const result = await withRetries(policy, async () => {
      calls += 1;
      if (calls < 3) throw new RegistryError('transient', where, 'answered 503', { httpStatus: 503 });
      return 'done';
    });
    assert.deepEqual({ result, calls }, { result: 'done', calls: 3 });
  });

  it('gives up after the last attempt with the last error', async () => {
    let calls = 0;
    await assert.rejects(withRetries(policy, async () => {
      calls += 1;
      throw transient(`attempt ${calls}`);
    }), /attempt 3/);
  });

  it('never retries a refusal, nor an error nobody classified', async () => {
    let calls = 0;
    await assert.rejects(withRetries(policy, async () => {
      calls += 1;
      throw refused('answered 401');
    }));
    await assert.rejects(withRetries(policy, async () => {
      calls += 1;
      throw new TypeError('a bug');
    }));
    assert.equal(calls, 2);
  });

  it('leaves a Retry-After beyond its maximum wait to whoever redelivers', async () => {
    let calls = 0;
    await assert.rejects(withRetries(policy, async () => {
      calls += 1;
      throw new RegistryError('transient', where, 'answered 429', { httpStatus: 429, retryAfterMs: 60_000 });
    }));
    assert.equal(calls, 1);
  });

  it('stops at once when its signal is aborted', async () => {
    const controller = new AbortController();
    let calls = 0;
    await assert.rejects(withRetries({ attempts: 10, baseDelayMs: 10_000, maxDelayMs: 10_000 }, async () => {
      calls += 1;
      controller.abort();
      throw transient('down');
    }, { signal: controller.signal }));
    assert.equal(calls, 1);
  });
});

describe('backoff and Retry-After', () => {
  it('doubles from the base, half fixed and half jitter, capped; a Retry-After wins up to the cap', () => {
    const p = { attempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
    assert.deepEqual([1, 2, 3, 4, 5].map((retry) => backoffDelayMs(p, retry, () => 1)), [100, 200, 400, 800, 1000]);
    assert.deepEqual([1, 2, 3].map((retry) => backoffDelayMs(p, retry, () => 0)), [50, 100, 200]);
    assert.equal(backoffDelayMs(p, 10_000, () => 1), 1000, 'a week-long outage does not overflow');
    assert.equal(backoffDelayMs(p, 1, () => 1, 300), 300);
    assert.equal(backoffDelayMs(p, 1, () => 1, 60_000), 1000);
  });

  it('reads Retry-After as seconds or a date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4_000), 6_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});
