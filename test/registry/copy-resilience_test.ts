/**
 * The copier when connections fail at awkward moments: a source blob failing while a
 * destination token is on its way, manifest and token bodies cut mid-way, short-lived tokens.
 * Real Debian docker-registry instances behind fault-injecting proxies and token realms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { copyImage, REGISTRY_RETRY } from '../../functions/registry/copy-image.js';
import { backoffDelayMs } from '../../functions/retry.js';
import { RegistryError } from '../../functions/registry/registry-error.js';
import { pushTestImage, startRegistry, TestRegistryClient } from './docker-registry.js';
import type { RunningRegistry } from './docker-registry.js';
import { startFaultyProxy } from './faulty-proxy.js';
import type { Fault, FaultyProxy, FaultyProxyOptions } from './faulty-proxy.js';
import type { TokenRealm } from './token-realm.js';

const FAST_RETRY = { attempts: 4, baseDelayMs: 20, maxDelayMs: 2_000 };
const isBlobGet = (method: string | undefined, url: string | undefined): boolean =>
  method === 'GET' && /\/blobs\/sha256:/.test(url ?? '');
const isUpload = (method: string | undefined, url: string | undefined): boolean =>
  method === 'PUT' && (url ?? '').includes('/blobs/uploads/');
const uploadPath = (url: string): string => new URL(url, 'http://x').pathname;
const isManifestGet = (method: string | undefined, url: string | undefined): boolean =>
  method === 'GET' && (url ?? '').includes('/manifests/');

function realmOf(registry: RunningRegistry): TokenRealm {
  assert.ok(registry.tokenRealm !== undefined, 'a token registry');
  return registry.tokenRealm;
}

describe('copyImage when connections fail mid-transfer', { timeout: 120_000 }, () => {
  let source: RunningRegistry;
  let destination: RunningRegistry;
  /** Its tokens claim to live 1 ms, so the copier fetches one before every request. */
  let renewing: RunningRegistry;
  let shortLived: RunningRegistry;
  const proxies: FaultyProxy[] = [];
  const proxy = async (options: FaultyProxyOptions): Promise<FaultyProxy> => {
    const started = await startFaultyProxy(options);
    proxies.push(started);
    return started;
  };

  before(async () => {
    [source, destination, renewing, shortLived] = await Promise.all([
      startRegistry(), startRegistry(),
      startRegistry({ auth: 'token', tokenExpiresInSeconds: 0.001 }),
      startRegistry({ auth: 'token', tokenExpiresInSeconds: 4 }),
    ]);
  });
  after(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all([source, destination, renewing, shortLived].filter((r) => r !== undefined).map((r) => r.stop()));
  });

  /**
   * The first blob GET fails with `fault`, and the destination's token realm holds every
   * answer until it has: the source fails while the upload waits for its token.
   */
  async function sourceFailingDuringTokenFetch(repository: string, fault: Fault): Promise<{ proxy: FaultyProxy; copy: Promise<unknown> }> {
    await pushTestImage(source, { repository, tag: 'v1', layerSizes: [30_000] });
    const realm = realmOf(renewing);
    let faulted = false;
    let sourceFailed: () => void = () => undefined;
    const failed = new Promise<void>((resolve) => { sourceFailed = resolve; });
    const failing = await proxy({
      target: source.url,
      fault: (req) => {
        if (faulted || !isBlobGet(req.method, req.url)) return undefined;
        faulted = true;
        realm.hold(failed);
        return fault;
      },
      onFaultDone: () => sourceFailed(),
    });
    const copy = copyImage({
      source: { registry: failing.host, repository, tag: 'v1' },
      destination: { registry: renewing.host, repository, tag: 'v1' },
      destinationAuth: () => renewing.credentials,
      concurrency: 1, retry: FAST_RETRY, idleTimeoutMs: 5_000,
    });
    try {
      await copy;
    } catch {
      // The caller asserts on the outcome.
    } finally {
      realm.hold(Promise.resolve());
    }
    return { proxy: failing, copy };
  }

  it('retries a source blob that drops while a destination token is fetched, instead of crashing', async () => {
    const { proxy: failing, copy } = await sourceFailingDuringTokenFetch('race/drop', { kind: 'drop-response', afterBytes: 10_000 });
    const result = await copy;
    assert.ok(failing.seen.some((r) => r.fault === 'drop-response'), 'the fault happened');
    const client = new TestRegistryClient(renewing);
    assert.equal((await client.getManifest('race/drop', 'v1'))?.digest, (result as { digest: string }).digest);
  });

  it('rejects a source blob that fails its digest while a destination token is fetched, instead of crashing', async () => {
    const { proxy: failing, copy } = await sourceFailingDuringTokenFetch('race/corrupt', { kind: 'flip-response', atByte: 100 });
    const error = await copy.then(() => undefined, (e: unknown) => e);
    assert.ok(failing.seen.some((r) => r.fault === 'flip-response'), 'the fault happened');
    assert.ok(error instanceof RegistryError && error.kind === 'refused', String(error));
    assert.match(error.message, /does not match its digest/);
  });

  it('renews a short-lived token only once half its lifetime has passed', async () => {
    const image = await pushTestImage(source, { repository: 'tokens/app', tag: 'v1', layerSizes: [1_000, 2_000] });
    const realm = realmOf(shortLived);
    const before = realm.requests.length;
    const result = await copyImage({
      source: { registry: source.host, repository: 'tokens/app', tag: 'v1' },
      destination: { registry: shortLived.host, repository: 'tokens/app', tag: 'v1' },
      destinationAuth: () => shortLived.credentials,
    });
    assert.equal(result.digest, image.digest);
    // A 4 s token is good for 2 s; a copy this small takes a fraction of that.
    const fetched = realm.requests.length - before;
    assert.ok(fetched >= 1 && fetched <= 2, `fetched ${fetched} tokens for one small copy`);
  });

  for (const fault of [{ kind: 'drop-response', afterBytes: 10 }, { kind: 'stall-response', afterBytes: 10 }] as const) {
    it(`retries a manifest whose body is cut mid-way (${fault.kind})`, async () => {
      const repository = `cut/${fault.kind}`;
      const image = await pushTestImage(source, { repository, tag: 'v1', layerSizes: [1_000] });
      let cuts = 0;
      const cutting = await proxy({
        target: source.url,
        fault: (req) => (isManifestGet(req.method, req.url) && cuts++ === 0 ? fault : undefined),
      });
      const result = await copyImage({
        source: { registry: cutting.host, repository, tag: 'v1' },
        destination: { registry: destination.host, repository, tag: 'v1' },
        retry: FAST_RETRY, idleTimeoutMs: 500,
      });
      assert.equal(result.digest, image.digest);
      assert.equal(cutting.seen.filter((r) => isManifestGet(r.method, r.path)).length, 2, 'fetched again after the cut');
    });
  }

  it('retries a token whose body is cut mid-way', async () => {
    const image = await pushTestImage(source, { repository: 'cut/token', tag: 'v1', layerSizes: [1_000] });
    const realm = realmOf(shortLived);
    const before = realm.requests.length;
    realm.cutNextAnswer(10);
    const result = await copyImage({
      source: { registry: source.host, repository: 'cut/token', tag: 'v1' },
      destination: { registry: shortLived.host, repository: 'cut/token', tag: 'v1' },
      destinationAuth: () => shortLived.credentials, retry: FAST_RETRY,
    });
    assert.equal(result.digest, image.digest);
    assert.ok(realm.requests.length - before >= 2, 'asked for a token again after the cut');
  });
  it('cancels every other upload when one blob fails for good, and each cancel reaches the registry', async () => {
    const repository = 'cancel/siblings';
    await pushTestImage(source, { repository, tag: 'v1', layerSizes: [20_000, 21_000, 22_000, 23_000, 24_000, 25_000] });
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => { release = resolve; });
    let puts = 0;
    // Five uploads wait at their PUT; the sixth is refused for good while they wait.
    const refusing = await proxy({
      target: destination.url,
      fault: (req) => {
        if (!isUpload(req.method, req.url)) return undefined;
        puts += 1;
        return puts < 6 ? { kind: 'hold', until: released } : { kind: 'status', status: 400 };
      },
    });
    try {
      const error = await copyImage({
        source: { registry: source.host, repository, tag: 'v1' },
        destination: { registry: refusing.host, repository, tag: 'v1' },
        concurrency: 6, retry: FAST_RETRY,
      }).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof RegistryError && error.kind === 'refused' && error.httpStatus === 400, String(error));
    } finally {
      release();
    }
    const started = refusing.seen.filter((r) => r.method === 'POST' && r.path.includes('/blobs/uploads/'));
    const uploaded = new Set(refusing.seen.filter((r) => isUpload(r.method, r.path)).map((r) => uploadPath(r.path)));
    const cancelled = new Set(refusing.seen.filter((r) => r.method === 'DELETE').map((r) => uploadPath(r.path)));
    assert.equal(started.length, 6, 'six uploads started');
    assert.equal(uploaded.size, 6, 'six uploads reached their PUT');
    assert.deepEqual([...cancelled].sort(), [...uploaded].sort(), 'every started upload was cancelled');
  });

  it('waits more than 10 s in all before giving up on a registry, and well within the delivery deadline', () => {
    const waits = (random: () => number): number => Array.from({ length: REGISTRY_RETRY.attempts - 1 },
      (_, index) => backoffDelayMs(REGISTRY_RETRY, index + 1, random)).reduce((sum, ms) => sum + ms, 0);
    assert.ok(waits(() => 0) > 10_000, `unluckiest jitter: ${waits(() => 0)} ms`);
    assert.ok(waits(() => 1) <= 30_000, `luckiest jitter: ${waits(() => 1)} ms`);
  });

  it('copies through a destination registry that restarts mid-copy and is down for 7 s', async () => {
    const repository = 'restart/app';
    const image = await pushTestImage(source, { repository, tag: 'v1', layerSizes: [200_000, 150_000, 100_000] });
    const restarting = await startRegistry();
    let markStopped: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => { markStopped = resolve; });
    let restarted: Promise<void> | undefined;
    // The first blob read waits until the destination is down: its upload then meets the outage.
    const watching = await proxy({
      target: source.url,
      fault: (req) => {
        if (restarted !== undefined || !isBlobGet(req.method, req.url)) return undefined;
        restarted = restarting.restart(async () => {
          markStopped();
          await sleep(7_000);
        });
        return { kind: 'hold', until: stopped };
      },
    });
    const retries: unknown[] = [];
    try {
      const result = await copyImage({
        source: { registry: watching.host, repository, tag: 'v1' },
        destination: { registry: restarting.host, repository, tag: 'v1' },
        logger: { debug: () => undefined, warn: (fields) => retries.push(fields) },
      });
      assert.equal(result.digest, image.digest);
      await restarted;
      assert.ok(retries.length >= 1, 'the outage was met and retried');
      assert.equal((await new TestRegistryClient(restarting).getManifest(repository, 'v1'))?.digest, image.digest);
    } finally {
      await restarted?.catch(() => undefined);
      await restarting.stop();
    }
  });
  for (const fault of [{ kind: 'drop-response', afterBytes: 1_000_000 }, { kind: 'stall-response', afterBytes: 1_000_000 }] as const) {
    it(`retries a big blob, read off a socket of its own, whose body is cut mid-way (${fault.kind})`, async () => {
      const repository = `raw/${fault.kind}`;
      const image = await pushTestImage(source, { repository, tag: 'v1', layerSizes: [3_000_000] });
      let cuts = 0;
      const cutting = await proxy({
        target: source.url,
        fault: (req) => (isBlobGet(req.method, req.url) && (req.url ?? '').includes(image.blobDigests[0] ?? '-') && cuts++ === 0 ? fault : undefined),
      });
      const result = await copyImage({
        source: { registry: cutting.host, repository, tag: 'v1' },
        destination: { registry: destination.host, repository, tag: 'v1' },
        retry: FAST_RETRY, idleTimeoutMs: 500,
      });
      assert.equal(result.digest, image.digest);
      assert.equal(cuts, 2, 'fetched again after the cut');
    });
  }

  it('refuses a big blob, read off a socket of its own, whose bytes do not match its digest', async () => {
    const repository = 'raw/corrupt';
    await pushTestImage(source, { repository, tag: 'v1', layerSizes: [3_000_000] });
    const flipping = await proxy({
      target: source.url,
      fault: (req) => (isBlobGet(req.method, req.url) ? { kind: 'flip-response', atByte: 2_000_000 } : undefined),
    });
    const error = await copyImage({
      source: { registry: flipping.host, repository, tag: 'v1' },
      destination: { registry: destination.host, repository, tag: 'v1' },
      retry: FAST_RETRY,
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof RegistryError && error.kind === 'refused', String(error));
    assert.match(error.message, /does not match its digest/);
    assert.equal(await new TestRegistryClient(destination).getManifest(repository, 'v1'), undefined, 'nothing committed');
  });
});
