/** The harness itself: each auth/TLS mode starts, accepts a pushed image and refuses strangers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pushTestImage, startRegistry, TestRegistryClient } from './docker-registry.js';
import type { RegistryOptions } from './docker-registry.js';

const modes: { name: string; options: RegistryOptions }[] = [
  { name: 'plain http, no auth', options: {} },
  { name: 'htpasswd over TLS', options: { auth: 'htpasswd', tls: true } },
  { name: 'token realm (access_token only)', options: { auth: 'token', tokenField: 'access_token' } },
  { name: 'token realm over TLS', options: { auth: 'token', tls: true } },
];

describe('docker-registry harness', () => {
  for (const { name, options } of modes) {
    it(`${name}: pushes an index and reads it back byte for byte`, async () => {
      const registry = await startRegistry(options);
      try {
        assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
        const image = await pushTestImage(registry, {
          repository: 'ns/app', tag: 'v1', layerSizes: [1000, 70_000], sharedLayerSizes: [3000],
          platforms: ['linux/amd64', 'linux/arm64/v8'],
        });
        assert.equal(image.childManifestDigests.length, 2);
        assert.equal(image.blobDigests.length, 1 + 2 * 2 + 2);
        const client = new TestRegistryClient(registry);
        const manifest = await client.getManifest('ns/app', 'v1');
        assert.equal(manifest?.digest, image.digest);
        for (const digest of image.blobDigests) assert.equal(await client.fetchBlobDigest('ns/app', digest), digest);
        if (options.auth !== undefined) {
          const stranger = new TestRegistryClient({ url: registry.url, ...(registry.caPath === undefined ? {} : { caPath: registry.caPath }),
            credentials: { username: 'nobody', password: 'wrong' } });
          await assert.rejects(stranger.getManifest('ns/app', 'v1'));
        }
        if (options.auth === 'token') assert.ok(registry.tokenRealm?.requests.some((r) => r.authenticated));
      } finally {
        await registry.stop();
      }
    });
  }
});
