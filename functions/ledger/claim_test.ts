import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClaimIdentity, parseClaim } from './claim.js';

describe('claim values', () => {
  it('are unique by construction: two taken in the same millisecond by one process differ, and two processes never share a holder', () => {
    const a = new ClaimIdentity('pod');
    const b = new ClaimIdentity('pod');
    const values = [a.next(60_000), a.next(60_000), b.next(60_000)];
    assert.equal(new Set(values).size, 3);
    assert.notEqual(a.holder, b.holder);
    assert.ok(a.owns(parseClaim(values[0], 1)));
    assert.ok(!a.owns(parseClaim(values[2], 1)));
  });

  it('declare their lease, which an observer waits for; a garbled or older value counts for the observer\'s own lease, and none for more than 15 minutes', () => {
    assert.deepEqual(parseClaim('pod-1a2b 7 60s', 5_000), { holder: 'pod-1a2b', leaseMs: 60_000, value: 'pod-1a2b 7 60s' });
    assert.equal(parseClaim('pod-1a2b 2026-11-20T10:03:41Z', 5_000)?.leaseMs, 5_000);
    assert.equal(parseClaim('x 1 999999s', 5_000)?.leaseMs, 15 * 60 * 1000);
    assert.equal(parseClaim('', 5_000), undefined);
    assert.equal(parseClaim(undefined, 5_000), undefined);
  });
});
