import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import type { PushedImage, RunningRegistry } from '../registry/docker-registry.js';
import { inspectImage, MESSAGES, parseReference } from './registry-inspect.js';

describe('parseReference', () => {
  const digest = 'sha256:' + 'a'.repeat(64);
  const cases: ReadonlyArray<readonly [string, ReturnType<typeof parseReference>]> = [
    ['127.0.0.1:5000/ns/app:v1', { registry: '127.0.0.1:5000', repository: 'ns/app', tag: 'v1' }],
    [`127.0.0.1:5000/ns/app@${digest}`, { registry: '127.0.0.1:5000', repository: 'ns/app', digest }],
    [`quay.io/a/b:1@${digest}`, { registry: 'quay.io', repository: 'a/b', tag: '1', digest }],
    ['localhost/app', { registry: 'localhost', repository: 'app', tag: 'latest' }],
    ['ubuntu', { registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest' }],
    ['fedora/httpd:2.4', { registry: 'docker.io', repository: 'fedora/httpd', tag: '2.4' }],
    ['image-registry.openshift-image-registry.svc:5000/ns/app', {
      registry: 'image-registry.openshift-image-registry.svc:5000', repository: 'ns/app', tag: 'latest' }],
  ];
  for (const [reference, expected] of cases) {
    it(`parses ${reference}`, () => assert.deepEqual(parseReference(reference), expected));
  }
  for (const bad of ['', 'Registry.io/UPPER/case', 'r:5000/ns/app@sha256:short', 'r:5000/ns/app:bad tag', 'r:5000//app', 'r:5000/ns/app:']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(parseReference(bad), undefined));
  }
});

describe('inspectImage against docker-registry', () => {
  let plain: RunningRegistry;
  let basicTls: RunningRegistry;
  let token: RunningRegistry;
  let ca: Buffer;
  const pushed = new Map<RunningRegistry, PushedImage>();

  before(async () => {
    [plain, basicTls, token] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: 'htpasswd', tls: true }),
      startRegistry({ auth: 'token' }),
    ]);
    ca = await readFile(basicTls.caPath ?? '');
    for (const registry of [plain, basicTls, token]) {
      pushed.set(registry, await pushTestImage(registry, { repository: 'ns/app', tag: 'v1', layerSizes: [512] }));
    }
  });
  after(async () => {
    await Promise.all([plain, basicTls, token].filter((registry) => registry !== undefined).map((registry) => registry.stop()));
  });

  const digestOf = (registry: RunningRegistry) => pushed.get(registry)?.digest ?? '';

  it('plain HTTP: found with verify_tls=false (https, then http), refused with verification', async () => {
    assert.deepEqual(await inspectImage(`${plain.host}/ns/app:v1`, { verifyTls: false }), {
      ok: true, digest: digestOf(plain), registry: plain.host, repository: 'ns/app' });
    assert.deepEqual(await inspectImage(`${plain.host}/ns/app:v1`, { verifyTls: true }), { ok: false, status: 400, error: MESSAGES.other });
    const insecure = await inspectImage(`${plain.host}/ns/app@${digestOf(plain)}`, { verifyTls: true, plainHttpRegistries: [plain.host] });
    assert.equal(insecure.ok, true);
  });

  it('reports unknown manifests, unknown repositories and digest mismatches as 400', async () => {
    assert.deepEqual(await inspectImage(`${plain.host}/ns/app:nope`, { verifyTls: false }), {
      ok: false, status: 400, error: MESSAGES.manifestUnknown });
    assert.deepEqual(await inspectImage(`${plain.host}/ns/app@sha256:${'0'.repeat(64)}`, { verifyTls: false }), {
      ok: false, status: 400, error: MESSAGES.manifestUnknown });
    assert.equal((await inspectImage(`${plain.host}/never/pushed:v1`, { verifyTls: false })).ok, false);
    assert.deepEqual(await inspectImage('Not A Reference', { verifyTls: false }), { ok: false, status: 400, error: MESSAGES.other });
  });

  it('reads an index through its linux/amd64 image and answers the index digest', async () => {
    const index = await pushTestImage(plain, { repository: 'ns/multi', tag: 'v1', layerSizes: [256], platforms: ['linux/arm64/v8', 'linux/amd64'] });
    assert.deepEqual(await inspectImage(`${plain.host}/ns/multi:v1`, { verifyTls: false }), {
      ok: true, digest: index.digest, registry: plain.host, repository: 'ns/multi' });
    const armOnly = await pushTestImage(plain, { repository: 'ns/arm', tag: 'v1', layerSizes: [256], platforms: ['linux/arm64/v8'] });
    assert.equal(armOnly.childManifestDigests.length, 1);
    assert.deepEqual(await inspectImage(`${plain.host}/ns/arm:v1`, { verifyTls: false }), { ok: false, status: 400, error: MESSAGES.other });
  });

  it('Basic over TLS: 401 unknown authority, 401 without credentials, 403 with wrong ones', async () => {
    const reference = `${basicTls.host}/ns/app:v1`;
    const credentials = basicTls.credentials;
    assert.ok(credentials !== undefined);
    assert.deepEqual(await inspectImage(reference, { verifyTls: true, credentials }), {
      ok: false, status: 401, error: MESSAGES.unknownAuthority });
    assert.deepEqual(await inspectImage(reference, { verifyTls: true, ca: [ca] }), {
      ok: false, status: 401, error: MESSAGES.authenticationRequired });
    assert.deepEqual(await inspectImage(reference, { verifyTls: true, ca: [ca], credentials: { ...credentials, password: 'wrong-password' } }), {
      ok: false, status: 403, error: MESSAGES.invalidCredentials });
    assert.equal((await inspectImage(reference, { verifyTls: true, ca: [ca], credentials })).ok, true);
    assert.equal((await inspectImage(reference, { verifyTls: false, credentials })).ok, true);
  });

  it('Bearer tokens: 401 anonymous, 403 for rejected credentials, found with good ones', async () => {
    const reference = `${token.host}/ns/app@${digestOf(token)}`;
    const credentials = token.credentials;
    assert.ok(credentials !== undefined);
    const options = { verifyTls: true, plainHttpRegistries: [token.host] };
    assert.deepEqual(await inspectImage(reference, options), { ok: false, status: 401, error: MESSAGES.authenticationRequired });
    assert.deepEqual(await inspectImage(reference, { ...options, credentials: { ...credentials, password: 'nope-nope' } }), {
      ok: false, status: 403, error: MESSAGES.invalidCredentials });
    const before = token.tokenRealm?.requests.length ?? 0;
    assert.deepEqual(await inspectImage(reference, { ...options, credentials }), {
      ok: true, digest: digestOf(token), registry: token.host, repository: 'ns/app' });
    const asked = token.tokenRealm?.requests.slice(before) ?? [];
    assert.ok(asked.length >= 1 && asked.every((request) => request.authenticated));
    assert.ok(asked.some((request) => request.scopes.includes('repository:ns/app:pull')));
  });
});
