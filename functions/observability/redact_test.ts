import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redact, redactValue, registerSecret } from './redact.js';

describe('redact', () => {
  it('hides registered secrets, Authorization headers, query strings and JWTs', () => {
    registerSecret('s3cr3t-p4ss');
    const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl';
    const text = [
      'password s3cr3t-p4ss leaked',
      'Authorization: Bearer abcdefghijklmnop',
      'POST https://thoth/api/v1/build-analysis?output_registry_password=x&debug=true',
      `token ${jwt}`,
    ].join('\n');
    const out = redact(text);
    for (const secret of ['s3cr3t-p4ss', 'abcdefghijklmnop', 'output_registry_password=x', jwt]) assert.equal(out.includes(secret), false, secret);
    assert.match(out, /build-analysis\?\[REDACTED\]/);
  });

  it('redacts nested values and credential-named keys', () => {
    const out = JSON.stringify(redactValue({ headers: { authorization: 'Basic Zm9vOmJhcg==' }, nested: [{ password: 'x' }], error: new Error('Bearer abcdefghijklmnop') }));
    assert.doesNotMatch(out, /Zm9vOmJhcg|abcdefghijklmnop|"x"/);
  });
});
