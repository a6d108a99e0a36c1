import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, parseRetryAfter, validateRetryPolicy } from './backoff.js';

describe('backoffDelayMs', () => {
  const policy = { attempts: 6, baseDelayMs: 100, maxDelayMs: 1_000 };
  const cases: ReadonlyArray<readonly [number, number, number]> = [
    // retry, random, expected
    [1, 0, 50],
    [1, 1, 100],
    [2, 0.5, 150],
    [3, 1, 400],
    [4, 0, 400],
    [5, 1, 1_000],
    [9, 0, 500],
  ];
  for (const [retry, random, expected] of cases) {
    it(`waits ${expected} ms before retry ${retry} when jitter is ${random}`, () => {
      assert.equal(backoffDelayMs(policy, retry, () => random), expected);
    });
  }
  it('follows Retry-After, capped at the maximum', () => {
    assert.equal(backoffDelayMs(policy, 1, () => 0, 300), 300);
    assert.equal(backoffDelayMs(policy, 1, () => 0, 60_000), 1_000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-20T10:00:00Z');
  it('reads seconds and dates', () => {
    assert.equal(parseRetryAfter('3', now), 3_000);
    assert.equal(parseRetryAfter('Fri, 20 Nov 2026 10:00:05 GMT', now), 5_000);
    assert.equal(parseRetryAfter('Fri, 20 Nov 2026 09:00:00 GMT', now), 0);
  });
  it('ignores junk', () => {
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(['1'], now), undefined);
  });
});

describe('validateRetryPolicy', () => {
  it('accepts the default and rejects nonsense with what it received', () => {
    assert.equal(validateRetryPolicy(DEFAULT_RETRY_POLICY), DEFAULT_RETRY_POLICY);
    assert.throws(() => validateRetryPolicy({ attempts: 0, baseDelayMs: 1, maxDelayMs: 2 }), /received 0/);
    assert.throws(() => validateRetryPolicy({ attempts: 2, baseDelayMs: 5, maxDelayMs: 2 }), /received 5 and 2/);
  });
});
