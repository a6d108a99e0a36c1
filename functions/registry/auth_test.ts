import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { basicAuthorization, parseChallenges, parseTokenResponse, realmProblem, repositoryScope } from './auth.js';

describe('parseChallenges', () => {
  const cases: [string, string, ReturnType<typeof parseChallenges>][] = [
    ['distribution Bearer with a comma inside a quoted scope',
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:ns/app:pull,push"',
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:ns/app:pull,push' } }],
    ['Basic with a realm', 'Basic realm="Registry Realm"', { scheme: 'basic', params: { realm: 'Registry Realm' } }],
    ['Bearer wins over Basic when node joined both headers',
      'Basic realm="x", Bearer realm="https://a/t",error="insufficient_scope"',
      { scheme: 'bearer', params: { realm: 'https://a/t', error: 'insufficient_scope' } }],
    ['case-insensitive scheme, unquoted token values, escaped quote',
      'BEARER Realm=https://a/t, service="say \\"hi\\""', { scheme: 'bearer', params: { realm: 'https://a/t', service: 'say "hi"' } }],
    ['unknown schemes only', 'Negotiate abc, NTLM', undefined],
    ['empty', '', undefined],
  ];
  for (const [name, header, expected] of cases) {
    it(name, () => assert.deepEqual(parseChallenges(header), expected));
  }
});

describe('realmProblem', () => {
  const registry = new URL('https://registry.example:5000');
  const cases: [string, string, URL, boolean][] = [
    ['https realm on another host', 'https://auth.example/token', registry, true],
    ['plain http realm on another host', 'http://auth.example/token', registry, false],
    ['plain http realm on the https registry host itself', 'http://registry.example:5000/token', registry, false],
    ['loopback http realm for a loopback registry', 'http://127.0.0.1:9999/token', new URL('http://127.0.0.1:5000'), true],
    ['loopback http realm for a remote registry', 'http://127.0.0.1:9999/token', registry, false],
    ['http realm on the origin of a registry allowed plain http', 'http://reg.internal:5000/auth', new URL('http://reg.internal:5000'), true],
    ['Docker Hub: registry-1.docker.io names an https realm on auth.docker.io', 'https://auth.docker.io/token', new URL('https://registry-1.docker.io'), true],
    ['plain http realm on another port of a registry allowed plain http', 'http://reg.internal:5001/auth', new URL('http://reg.internal:5000'), false],
    ['loopback http realm named by a remote plain-http registry', 'http://127.0.0.1:9999/token', new URL('http://reg.internal:5000'), false],
    ['plain http realm on a remote host named by a loopback registry', 'http://192.0.2.1/token', new URL('http://127.0.0.1:5000'), false],
    ['not a URL', 'token-service', registry, false],
    ['another scheme', 'ftp://auth.example/token', registry, false],
  ];
  for (const [name, realm, origin, accepted] of cases) {
    it(name, () => assert.equal(realmProblem(realm, origin) === undefined, accepted));
  }
});

describe('parseTokenResponse', () => {
  const now = 1_000_000;
  it('reads token and expires_in, renewing 10 s before expiry', () => {
    assert.deepEqual(parseTokenResponse(Buffer.from('{"token":"abc","expires_in":300}'), now), { value: 'abc', refreshAt: now + 290_000 });
  });
  it('accepts access_token alone and defaults the lifetime to 60 s', () => {
    assert.deepEqual(parseTokenResponse(Buffer.from('{"access_token":"xyz"}'), now), { value: 'xyz', refreshAt: now + 50_000 });
  });
  for (const [seconds, refreshIn] of [[20, 10_000], [10, 5_000], [4, 2_000], [0.5, 250]] as const) {
    it(`uses a ${seconds} s token for half its lifetime, not one request`, () => {
      assert.equal(parseTokenResponse(Buffer.from(`{"token":"t","expires_in":${seconds}}`), now)?.refreshAt, now + refreshIn);
    });
  }
  it('prefers token when both are given', () => {
    assert.equal(parseTokenResponse(Buffer.from('{"token":"a","access_token":"b"}'), now)?.value, 'a');
  });
  for (const body of ['{}', '{"token":""}', 'not json', '[]', 'null', '{"token":42}']) {
    it(`refuses ${body}`, () => assert.equal(parseTokenResponse(Buffer.from(body), now), undefined));
  }
});

it('formats Basic credentials and scopes', () => {
  assert.equal(basicAuthorization({ username: 'user', password: 'pa:ss' }), `Basic ${Buffer.from('user:pa:ss').toString('base64')}`);
  assert.equal(repositoryScope('ns/app', ['pull', 'push']), 'repository:ns/app:pull,push');
});
