/**
 * Which token realms get a registry's credentials (functions/registry/auth.ts realmProblem), with real docker-registry
 * instances: https on any host the registry names (Docker Hub's registry-1.docker.io names auth.docker.io); plain http
 * only on loopback for a loopback registry (nothing leaves the machine: the realm every other registry test uses), or on
 * the origin of a registry allowed plain HTTP. A plain-http realm elsewhere is refused before anything is sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { copyImage } from '../../functions/registry/copy-image.js';
import { RegistryError } from '../../functions/registry/registry-error.js';
import { pushTestImage, startRegistry, type RunningRegistry } from './docker-registry.js';
import { startFaultyProxy, type FaultyProxy } from './faulty-proxy.js';

describe('token realms, with real registries', { timeout: 120_000 }, () => {
  let source: RunningRegistry;
  let dockerHubLike: RunningRegistry;
  let loopbackRealm: RunningRegistry;
  let guarded: RunningRegistry;
  let strangeRealm: FaultyProxy;

  before(async () => {
    [source, dockerHubLike, loopbackRealm, guarded] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: 'token', tls: true, tokenRealmHost: 'localhost' }),
      startRegistry({ auth: 'token' }),
      startRegistry({ auth: 'htpasswd', credentials: { username: 'realm-user', password: 's3cr3t-realm-password' } }),
    ]);
    // The registry names a plain-http realm on a host that is neither loopback nor its own (TEST-NET-1: nothing answers).
    strangeRealm = await startFaultyProxy({
      target: guarded.url,
      fault: (req) => (req.url?.startsWith('/v2/') === true
        ? { kind: 'status', status: 401, headers: { 'www-authenticate': 'Bearer realm="http://192.0.2.1/token",service="registry"' } }
        : undefined),
    });
  });

  after(async () => {
    await strangeRealm?.close();
    await Promise.all([source, dockerHubLike, loopbackRealm, guarded].filter((r) => r !== undefined).map((r) => r.stop()));
  });

  it('an https realm on another host than the registry\'s gets the credentials, as Docker Hub\'s auth.docker.io does', async () => {
    assert.match(dockerHubLike.tokenRealm?.url ?? '', /^https:\/\/localhost:\d+\/token$/);
    assert.notEqual(new URL(dockerHubLike.tokenRealm?.url ?? '').host, dockerHubLike.host, 'another origin than the registry');
    const image = await pushTestImage(source, { repository: 'hub/app', tag: 'v1', layerSizes: [4096] });
    const before = dockerHubLike.tokenRealm?.requests.length ?? 0;
    const result = await copyImage({
      source: { registry: source.host, repository: 'hub/app', tag: 'v1' },
      destination: { registry: dockerHubLike.host, repository: 'copies/hub/app', tag: 'v1' },
      destinationAuth: () => dockerHubLike.credentials,
      destinationTls: { verify: true, ...(dockerHubLike.caPath === undefined ? {} : { caPath: dockerHubLike.caPath }) },
    });
    assert.equal(result.digest, image.digest);
    const requests = dockerHubLike.tokenRealm?.requests.slice(before) ?? [];
    assert.ok(requests.length >= 1 && requests.every((r) => r.authenticated), 'the realm was asked, with the credentials');
  });

  it('a plain-http realm on another loopback port of a loopback registry gets them (what the other registry tests use)', async () => {
    assert.notEqual(new URL(loopbackRealm.tokenRealm?.url ?? '').port, new URL(loopbackRealm.url).port);
    const image = await pushTestImage(source, { repository: 'loop/app', tag: 'v1', layerSizes: [2048] });
    const result = await copyImage({
      source: { registry: source.host, repository: 'loop/app', tag: 'v1' },
      destination: { registry: loopbackRealm.host, repository: 'copies/loop/app', tag: 'v1' },
      destinationAuth: () => loopbackRealm.credentials,
    });
    assert.equal(result.digest, image.digest);
  });

  it('a plain-http realm on another, non-loopback host is refused before any credential is sent', async () => {
    await pushTestImage(source, { repository: 'strange/app', tag: 'v1', layerSizes: [1024] });
    await assert.rejects(copyImage({
      source: { registry: source.host, repository: 'strange/app', tag: 'v1' },
      destination: { registry: strangeRealm.host, repository: 'copies/strange/app', tag: 'v1' },
      destinationAuth: () => guarded.credentials,
    }), (error: unknown) => error instanceof RegistryError && error.kind === 'refused' && /token realm is plain http on another host/.test(error.message));
    assert.deepEqual(strangeRealm.seen.filter((request) => request.authorization !== undefined), [], 'no Authorization header went anywhere');
  });
});
