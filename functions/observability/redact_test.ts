import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ENCODERS, SECRETS } from '../../test/observability/secret-encodings.js';
import { redact, redactLine, redactValue, registerSecret, WITHHELD } from './redact.js';

for (const secret of SECRETS) registerSecret(secret, 'robot$builder');

/** Where outside text plants it: a sentence, and Thoth's JSON error body. Both end with it, as a text cut inside a secret does. */
const CONTEXTS: Readonly<Record<string, (planted: string) => string>> = {
  sentence: (planted) => `403 credentials refused (There was an error accessing the image with ${planted}`,
  'JSON body': (planted) => JSON.stringify({ error: `registry_password is ${planted}` }),
};

describe('redact, by the encoder table: every secret, in every encoding, in every context', () => {
  for (const [encoding, encode] of Object.entries(ENCODERS)) {
    it(encoding, () => {
      for (const secret of SECRETS) {
        const { text, pieces } = encode(secret);
        for (const [context, plant] of Object.entries(CONTEXTS)) {
          const out = redact(plant(text));
          for (const piece of pieces) assert.equal(out.includes(piece), false, `${JSON.stringify(secret)} as ${encoding} in a ${context}: ${out}`);
        }
      }
    });
  }
});

describe('redact', () => {
  it('replaces a secret where it stands and keeps the rest of the text', () => {
    assert.equal(redact(`denied for ${SECRETS[1] ?? ''}, try again`), 'denied for [REDACTED], try again');
    assert.equal(redact(`denied for ${encodeURIComponent(SECRETS[1] ?? '').toLowerCase()}`), 'denied for [REDACTED]');
  });

  it('leaves ordinary text alone, words a password shares included', () => {
    registerSecret('registry-password-7c1f2e');
    const text = 'There was an error accessing the image as the username/password provided was invalid: registry unauthorized';
    assert.equal(redact(text), text);
  });

  it('withholds a text whose secret survives replacement, rather than show part of it', () => {
    assert.equal(redact(`a: ${SECRETS[0]?.slice(0, 10) ?? ''}\n${SECRETS[0]?.slice(10) ?? ''} b`), WITHHELD);
  });

  it('hides Authorization headers, query strings and JWTs of unknown secrets', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJl';
    const text = [
      'Authorization: Bearer abcdefghijklmnop',
      'POST https://thoth/api/v1/build-analysis?output_registry_password=x&debug=true',
      `token ${jwt}`,
    ].join('\n');
    const out = redact(text);
    for (const secret of ['abcdefghijklmnop', 'output_registry_password=x', jwt]) assert.equal(out.includes(secret), false, secret);
    assert.match(out, /build-analysis\?\[REDACTED\]/);
  });

  it('redacts nested values and credential-named keys', () => {
    const out = JSON.stringify(redactValue({ headers: { authorization: 'Basic Zm9vOmJhcg==' }, nested: [{ password: 'x' }], error: new Error('Bearer abcdefghijklmnop') }));
    assert.doesNotMatch(out, /Zm9vOmJhcg|abcdefghijklmnop|"x"/);
  });
});

describe('redactLine: outside text as a bounded log line', () => {
  const secret = SECRETS[1] ?? '';
  it('is one line of at most its bound, and a secret the bound cuts shows no character', () => {
    for (let at = 990; at < 1200; at += 1) {
      const out = redactLine(`${'x'.repeat(at)}${secret}\n${'y'.repeat(1 << 20)}`, 1024);
      assert.ok(out.length <= 1024, `${out.length} characters`);
      assert.doesNotMatch(out, /\n/);
      assert.equal(out.includes(secret.slice(0, 2)), false, `cut at ${at}: ${out.slice(-40)}`);
    }
  });

  it('keeps a short text whole, on one line', () => {
    assert.equal(redactLine(`one\ntwo\tthree ${secret}`, 1024), 'one two three [REDACTED]');
  });
});
