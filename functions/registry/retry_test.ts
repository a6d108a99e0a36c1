import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kindOfStatus, parseRetryAfter, RegistryError } from './registry-error.js';
import { withRetries } from './retry.js';

const where = { registry: 'reg.example', repository: 'ns/app' };
const policy = { attempts: 3, baseDelayMs: 1, maxDelayMs: 50 };
const signal = new AbortController().signal;

describe('withRetries', () => {
  it('retries transient failures, then succeeds', async () => {
    let calls = 0;
    const result = await withRetries(policy, signal, async () => {
      calls += 1;
      if (calls < 3) throw new RegistryError('transient', where, 'answered 503', { httpStatus: 503 });
      return 'done';
    });
    assert.deepEqual({ result, calls }, { result: 'done', calls: 3 });
  });

  it('gives up after the last attempt with the last error', async () => {
    let calls = 0;
    await assert.rejects(withRetries(policy, signal, async () => {
      calls += 1;
      throw new RegistryError('transient', where, `attempt ${calls}`);
    }), /attempt 3/);
  });

  it('never retries a refusal', async () => {
    let calls = 0;
    await assert.rejects(withRetries(policy, signal, async () => {
      calls += 1;
      throw new RegistryError('refused', where, 'answered 401', { httpStatus: 401 });
    }));
    assert.equal(calls, 1);
  });

  it('leaves a Retry-After beyond its maximum wait to whoever redelivers', async () => {
    let calls = 0;
    await assert.rejects(withRetries(policy, signal, async () => {
      calls += 1;
      throw new RegistryError('transient', where, 'answered 429', { httpStatus: 429, retryAfterMs: 60_000 });
    }));
    assert.equal(calls, 1);
  });
});

describe('registry errors', () => {
  it('name the registry and repository, nothing else', () => {
    assert.equal(new RegistryError('refused', where, 'fetch manifest v1 answered 404').message, 'reg.example/ns/app: fetch manifest v1 answered 404');
  });
  it('classify statuses', () => {
    assert.deepEqual([401, 403, 404, 400, 408, 429, 500, 503].map(kindOfStatus),
      ['refused', 'refused', 'refused', 'refused', 'transient', 'transient', 'transient', 'transient']);
  });
  it('read Retry-After as seconds or a date', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4_000), 6_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});
