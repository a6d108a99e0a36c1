/**
 * The copier against real Debian docker-registry instances on loopback: auth kinds, TLS,
 * indexes, mounts, re-copies, and proxies that drop, corrupt, throttle and redirect.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { copyImage } from '../../functions/registry/copy-image.js';
import type { CopyImageOptions } from '../../functions/registry/copy-image.js';
import { RegistryError } from '../../functions/registry/registry-error.js';
import { pushTestImage, startRegistry, TestRegistryClient } from './docker-registry.js';
import type { PushedImage, RunningRegistry } from './docker-registry.js';
import { startFaultyProxy } from './faulty-proxy.js';
import type { FaultyProxy } from './faulty-proxy.js';

const FAST_RETRY = { attempts: 4, baseDelayMs: 20, maxDelayMs: 2_000 };
const isBlobGet = (method: string | undefined, url: string | undefined): boolean =>
  method === 'GET' && /\/blobs\/sha256:/.test(url ?? '');
const isBlobPut = (method: string | undefined, url: string | undefined): boolean =>
  method === 'PUT' && /\/blobs\/uploads\//.test(url ?? '');

const tlsOf = (registry: RunningRegistry): { caPath: string } | Record<string, never> =>
  registry.caPath === undefined ? {} : { caPath: registry.caPath };
const authOf = (registry: RunningRegistry): NonNullable<CopyImageOptions['sourceAuth']> => () => registry.credentials;

/** Every blob and child manifest of `image` is at `registry/repository`, byte for byte. */
async function assertCopied(registry: RunningRegistry, repository: string, tag: string, image: PushedImage): Promise<void> {
  const client = new TestRegistryClient(registry);
  assert.equal((await client.getManifest(repository, tag))?.digest, image.digest);
  for (const child of image.childManifestDigests) assert.equal((await client.getManifest(repository, child))?.digest, child);
  for (const blob of image.blobDigests) assert.equal(await client.fetchBlobDigest(repository, blob), blob);
}

describe('copyImage between real registries', { timeout: 120_000 }, () => {
  let plainA: RunningRegistry;
  let plainB: RunningRegistry;
  let basicTls: RunningRegistry;
  let token: RunningRegistry;
  const proxies: FaultyProxy[] = [];
  const proxy = async (...args: Parameters<typeof startFaultyProxy>): Promise<FaultyProxy> => {
    const started = await startFaultyProxy(...args);
    proxies.push(started);
    return started;
  };

  before(async () => {
    [plainA, plainB, basicTls, token] = await Promise.all([
      startRegistry(), startRegistry(),
      startRegistry({ auth: 'htpasswd', tls: true }),
      startRegistry({ auth: 'token', tokenField: 'access_token' }),
    ]);
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all([plainA, plainB, basicTls, token].filter((r) => r !== undefined).map((r) => r.stop()));
  });

  it('copies an image with its digest, and a re-copy sends no blob bytes', async () => {
    const image = await pushTestImage(plainA, { repository: 'team/app', tag: 'v1', layerSizes: [300_000, 1_200_000, 10] });
    const options: CopyImageOptions = {
      source: { registry: plainA.host, repository: 'team/app', tag: 'v1' },
      destination: { registry: plainB.host, repository: 'mirror/team/app', tag: 'v1' },
    };
    const first = await copyImage(options);
    assert.equal(first.digest, image.digest);
    assert.equal(first.blobsCopied, image.blobDigests.length);
    assert.equal(first.bytesSent, image.blobBytes);
    await assertCopied(plainB, 'mirror/team/app', 'v1', image);

    const again = await copyImage(options);
    assert.deepEqual({ digest: again.digest, bytesSent: again.bytesSent, blobsCopied: again.blobsCopied, manifestsPushed: again.manifestsPushed },
      { digest: image.digest, bytesSent: 0, blobsCopied: 0, manifestsPushed: 0 });

    // Same content under a new tag: only the tag is written.
    const retag = await copyImage({ ...options, destination: { ...options.destination, tag: 'v1-copy' } });
    assert.deepEqual({ bytesSent: retag.bytesSent, manifestsPushed: retag.manifestsPushed }, { bytesSent: 0, manifestsPushed: 1 });
  });

  it('copies a multi-arch index whole: same digest, children first, a shared layer uploaded once', async () => {
    const image = await pushTestImage(plainA, {
      repository: 'multi/app', tag: 'latest', format: 'docker', layerSizes: [50_000, 2_000],
      sharedLayerSizes: [400_000], platforms: ['linux/amd64', 'linux/arm64/v8', 'linux/s390x'],
    });
    const proxied = await proxy({ target: plainB.url });
    const result = await copyImage({
      source: { registry: plainA.host, repository: 'multi/app', digest: image.digest },
      destination: { registry: proxied.host, repository: 'multi/app', tag: 'latest' },
    });
    assert.equal(result.digest, image.digest);
    assert.equal(result.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.equal(result.blobsCopied, image.blobDigests.length);
    assert.equal(result.manifestsPushed, 4);
    await assertCopied(plainB, 'multi/app', 'latest', image);
    const manifestPuts = proxied.seen.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'));
    assert.equal(manifestPuts.at(-1)?.path, '/v2/multi/app/manifests/latest', 'the tag is written last');
    const sharedUploads = proxied.seen.filter((r) => r.method === 'POST' && r.path.includes('/blobs/uploads/'));
    assert.equal(sharedUploads.length, image.blobDigests.length, 'each digest uploaded once');
  });

  it('reads from htpasswd Basic over TLS with a test CA and writes through a token realm', async () => {
    // The 2 MB layers are read off TLS connections of their own (raw-body-get.ts), the small ones through node:https.
    const image = await pushTestImage(basicTls, { repository: 'secure/app', tag: 'v2', layerSizes: [200_000, 2_000_000], platforms: ['linux/amd64', 'linux/arm64'] });
    const tokensBefore = token.tokenRealm?.requests.length ?? 0;
    const result = await copyImage({
      source: { registry: basicTls.host, repository: 'secure/app', tag: 'v2' },
      destination: { registry: token.host, repository: 'copies/secure/app', tag: 'v2' },
      sourceAuth: authOf(basicTls), destinationAuth: authOf(token), sourceTls: tlsOf(basicTls),
    });
    assert.equal(result.digest, image.digest);
    const tokenRequests = token.tokenRealm?.requests.slice(tokensBefore) ?? [];
    await assertCopied(token, 'copies/secure/app', 'v2', image);
    assert.ok(tokenRequests.length >= 1 && tokenRequests.length <= 2, `one token per copy, saw ${tokenRequests.length}`);
    assert.ok(tokenRequests.every((r) => r.authenticated && r.scopes.includes('repository:copies/secure/app:pull,push')));
  });

  it('mounts blobs between repositories of one registry, asking for both scopes in one token', async () => {
    const image = await pushTestImage(token, { repository: 'origin/app', tag: 'v1', layerSizes: [500_000, 700_000] });
    const tokensBefore = token.tokenRealm?.requests.length ?? 0;
    const result = await copyImage({
      source: { registry: token.host, repository: 'origin/app', tag: 'v1' },
      destination: { registry: token.host, repository: 'elsewhere/app', tag: 'v1' },
      sourceAuth: authOf(token), destinationAuth: authOf(token),
    });
    assert.deepEqual({ mounted: result.blobsMounted, copied: result.blobsCopied, bytes: result.bytesSent },
      { mounted: image.blobDigests.length, copied: 0, bytes: 0 });
    await assertCopied(token, 'elsewhere/app', 'v1', image);
    const scopes = token.tokenRealm?.requests.slice(tokensBefore).map((r) => r.scopes) ?? [];
    assert.ok(scopes.some((s) => s.includes('repository:elsewhere/app:pull,push') && s.includes('repository:origin/app:pull')));
  });

  it('uploads instead when the destination credentials may not mount from the source repository', async () => {
    const image = await pushTestImage(plainA, { repository: 'private/app', tag: 'v1', layerSizes: [100_000, 20] });
    const guarded = await proxy({
      target: plainA.url,
      fault: (req) => (req.method === 'POST' && req.url?.includes('mount=') === true ? { kind: 'status', status: 401 } : undefined),
    });
    const result = await copyImage({
      source: { registry: guarded.host, repository: 'private/app', tag: 'v1' },
      destination: { registry: guarded.host, repository: 'public/app', tag: 'v1' },
      concurrency: 1,
    });
    assert.deepEqual({ mounted: result.blobsMounted, copied: result.blobsCopied }, { mounted: 0, copied: image.blobDigests.length });
    assert.equal(guarded.seen.filter((r) => r.path.includes('mount=')).length, 2, 'one mount, retried once after re-authenticating');
    await assertCopied(plainA, 'public/app', 'v1', image);
  });

  it('refuses wrong credentials with a clear error that holds no secret', async () => {
    await pushTestImage(basicTls, { repository: 'locked/app', tag: 'v1', layerSizes: [10] });
    const password = 'not-the-password-4711';
    for (const registry of [basicTls, token]) {
      const error = await copyImage({
        source: { registry: registry.host, repository: 'locked/app', tag: 'v1' },
        destination: { registry: plainB.host, repository: 'never/app', tag: 'v1' },
        sourceAuth: () => ({ username: registry.credentials?.username ?? 'x', password }), sourceTls: tlsOf(registry),
      }).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof RegistryError, String(error));
      assert.equal(error.kind, 'refused');
      assert.equal(error.httpStatus, 401);
      assert.ok(error.message.startsWith(registry.host), error.message);
      assert.ok(!error.message.includes(password) && !error.message.includes('Basic '), error.message);
    }
    assert.equal(await new TestRegistryClient(plainB).getManifest('never/app', 'v1'), undefined);
  });

  it('verifies TLS by default, and skips verification only when told', async () => {
    await pushTestImage(basicTls, { repository: 'tls/app', tag: 'v1', layerSizes: [10] });
    const base = {
      source: { registry: basicTls.host, repository: 'tls/app', tag: 'v1' },
      destination: { registry: plainB.host, repository: 'tls/app', tag: 'v1' },
      sourceAuth: authOf(basicTls), retry: FAST_RETRY,
    };
    await assert.rejects(copyImage(base), (e: unknown) => e instanceof RegistryError && e.kind === 'refused' && /CERT|SELF_SIGNED|UNABLE/.test(e.message));
    const result = await copyImage({ ...base, sourceTls: { verify: false } });
    assert.equal(result.blobsCopied, 2);
  });

  it('retries a blob whose source connection drops mid-body, and the copy is intact', async () => {
    const image = await pushTestImage(plainA, { repository: 'flaky/src', tag: 'v1', layerSizes: [3_000_000] });
    let drops = 0;
    const flaky = await proxy({
      target: plainA.url,
      fault: (req) => (isBlobGet(req.method, req.url) && drops++ < 2 ? { kind: 'drop-response', afterBytes: 1_000_000 } : undefined),
    });
    const result = await copyImage({
      source: { registry: flaky.host, repository: 'flaky/src', tag: 'v1' },
      destination: { registry: plainB.host, repository: 'flaky/src', tag: 'v1' },
      retry: FAST_RETRY,
    });
    assert.equal(result.digest, image.digest);
    assert.equal(flaky.seen.filter((r) => r.fault === 'drop-response').length, 2);
    await assertCopied(plainB, 'flaky/src', 'v1', image);
  });

  it('retries a blob whose upload connection drops mid-body, and the copy is intact', async () => {
    const image = await pushTestImage(plainA, { repository: 'flaky/dst', tag: 'v1', layerSizes: [3_000_000] });
    let drops = 0;
    const flaky = await proxy({
      target: plainB.url,
      fault: (req) => (isBlobPut(req.method, req.url) && Number(req.headers['content-length']) > 2_000_000 && drops++ < 1 ? { kind: 'drop-request', afterBytes: 1_500_000 } : undefined),
    });
    const result = await copyImage({
      source: { registry: plainA.host, repository: 'flaky/dst', tag: 'v1' },
      destination: { registry: flaky.host, repository: 'flaky/dst', tag: 'v1' },
      retry: FAST_RETRY,
    });
    assert.equal(result.digest, image.digest);
    assert.ok(flaky.seen.filter((r) => isBlobPut(r.method, r.path)).length >= 3, 'the dropped blob was uploaded again');
    await assertCopied(plainB, 'flaky/dst', 'v1', image);
  });

  it('refuses a corrupted blob and commits nothing of it', async () => {
    const image = await pushTestImage(plainA, { repository: 'corrupt/app', tag: 'v1', layerSizes: [2_000_000] });
    const corrupting = await proxy({
      target: plainA.url,
      fault: (req) => (isBlobGet(req.method, req.url) ? { kind: 'flip-response', atByte: 1_234_567 } : undefined),
    });
    const error = await copyImage({
      source: { registry: corrupting.host, repository: 'corrupt/app', tag: 'v1' },
      destination: { registry: plainB.host, repository: 'corrupt/app', tag: 'v1' },
      retry: FAST_RETRY,
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RegistryError && error.kind === 'refused', String(error));
    assert.match(error.message, /does not match its digest/);
    const client = new TestRegistryClient(plainB);
    const layer = image.blobDigests[0] ?? '';
    assert.equal(await client.blobExists('corrupt/app', layer), false);
    assert.equal(await client.getManifest('corrupt/app', 'v1'), undefined);
  });

  it('honours Retry-After on 429', async () => {
    await pushTestImage(plainA, { repository: 'slow/app', tag: 'v1', layerSizes: [10] });
    let throttled = 0;
    const throttling = await proxy({
      target: plainA.url,
      fault: (req) => (req.url?.includes('/manifests/') === true && throttled++ === 0
        ? { kind: 'status', status: 429, headers: { 'retry-after': '1' } } : undefined),
    });
    const started = Date.now();
    await copyImage({
      source: { registry: throttling.host, repository: 'slow/app', tag: 'v1' },
      destination: { registry: plainB.host, repository: 'slow/app', tag: 'v1' },
      retry: FAST_RETRY,
    });
    assert.ok(Date.now() - started >= 950, 'waited as asked');
    assert.equal(throttled, 2);
  });

  it('falls back to 16 MiB PATCH chunks when the destination refuses monolithic PUTs', async () => {
    const layer = 40_000_000;
    const image = await pushTestImage(plainA, { repository: 'chunky/app', tag: 'v1', layerSizes: [layer, 5] });
    const strict = await proxy({
      target: plainB.url,
      fault: (req) => (isBlobPut(req.method, req.url) && req.headers['content-length'] !== '0'
        ? { kind: 'status', status: 413 } : undefined),
    });
    const result = await copyImage({
      source: { registry: plainA.host, repository: 'chunky/app', tag: 'v1' },
      destination: { registry: strict.host, repository: 'chunky/app', tag: 'v1' },
      retry: FAST_RETRY,
    });
    assert.equal(result.digest, image.digest);
    const chunk = 16 * 1024 * 1024;
    const ranges = strict.seen.filter((r) => r.method === 'PATCH').map((r) => [r.contentRange, Number(r.contentLength)]);
    const big = ranges.filter(([, length]) => Number(length) > 1_000);
    assert.deepEqual(big, [[`0-${chunk - 1}`, chunk], [`${chunk}-${2 * chunk - 1}`, chunk], [`${2 * chunk}-${layer - 1}`, layer - 2 * chunk]]);
    assert.ok(strict.seen.filter((r) => isBlobPut(r.method, r.path)).every((r) => r.contentLength === '0' || r.fault === 'status'),
      'each upload ends with an empty PUT');
    await assertCopied(plainB, 'chunky/app', 'v1', image);
  });

  it('follows a redirect to blob storage without sending it the registry credentials', async () => {
    const image = await pushTestImage(token, { repository: 'redirected/app', tag: 'v1', layerSizes: [100_000] });
    const realm = new URL(token.tokenRealm?.url ?? '');
    realm.searchParams.set('service', 'build-watcher-test-registry');
    realm.searchParams.set('scope', 'repository:redirected/app:pull');
    const basic = Buffer.from(`${token.credentials?.username}:${token.credentials?.password}`).toString('base64');
    const issued = await fetch(realm, { headers: { authorization: `Basic ${basic}` } }).then((r) => r.json()) as { access_token: string };
    const storage = await proxy({ target: token.url, upstreamAuthorization: `Bearer ${issued.access_token}` });
    const front = await proxy({
      target: token.url,
      fault: (req) => (isBlobGet(req.method, req.url) ? { kind: 'redirect', origin: storage.url } : undefined),
    });
    const result = await copyImage({
      source: { registry: front.host, repository: 'redirected/app', tag: 'v1' },
      destination: { registry: plainB.host, repository: 'redirected/app', tag: 'v1' },
      sourceAuth: authOf(token),
    });
    assert.equal(result.digest, image.digest);
    assert.equal(storage.seen.length, image.blobDigests.length);
    assert.ok(storage.seen.every((r) => r.authorization === undefined), 'no Authorization crossed origins');
    assert.ok(front.seen.some((r) => r.authorization?.startsWith('Bearer ') === true));
  });

  it('stops promptly when aborted, with a transient error', async () => {
    await pushTestImage(plainA, { repository: 'abort/app', tag: 'v1', layerSizes: [20_000_000] });
    let blobRequested: () => void = () => undefined;
    const blobSeen = new Promise<void>((resolve) => { blobRequested = resolve; });
    const stalling = await proxy({
      target: plainA.url,
      // A blob that never finishes: only the abort can end the copy.
      fault: (req) => {
        if (!isBlobGet(req.method, req.url)) return undefined;
        blobRequested();
        return { kind: 'stall-response', afterBytes: 100_000 };
      },
    });
    const controller = new AbortController();
    const copying = copyImage({
      source: { registry: stalling.host, repository: 'abort/app', tag: 'v1' },
      destination: { registry: plainB.host, repository: 'abort/app', tag: 'v1' },
      signal: controller.signal,
    });
    await blobSeen;
    const abortedAt = Date.now();
    controller.abort();
    await assert.rejects(copying, (e: unknown) => e instanceof RegistryError && e.kind === 'transient' && /aborted/.test(e.message));
    assert.ok(Date.now() - abortedAt < 2_000);
  });
});
