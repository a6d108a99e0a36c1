import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, parseManifest } from './manifest.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('parseManifest', () => {
  it('lists the config and layers of an OCI image manifest', () => {
    const parsed = parseManifest(json({
      schemaVersion: 2, mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 10 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('b'), size: 20 }],
    }), 'application/json');
    assert.deepEqual(parsed, { kind: 'image', mediaType: OCI_MANIFEST, blobs: [
      { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 10 },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('b'), size: 20 },
    ] });
  });

  it('skips foreign and non-distributable layers, which registries must not be asked for', () => {
    const parsed = parseManifest(json({
      schemaVersion: 2, mediaType: DOCKER_MANIFEST,
      config: { mediaType: 'x', digest: d('a'), size: 1 },
      layers: [
        { mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: d('b'), size: 2, urls: ['https://x'] },
        { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', digest: d('c'), size: 3 },
        { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: d('e'), size: 4 },
      ],
    }), undefined);
    assert.ok(typeof parsed !== 'string' && parsed.kind === 'image');
    assert.deepEqual(parsed.blobs.map((b) => b.digest), [d('a'), d('e')]);
  });

  it('lists the manifests of a Docker manifest list', () => {
    const parsed = parseManifest(json({
      schemaVersion: 2, mediaType: DOCKER_MANIFEST_LIST,
      manifests: [{ mediaType: DOCKER_MANIFEST, digest: d('1'), size: 5, platform: { os: 'linux', architecture: 'amd64' } }],
    }), DOCKER_MANIFEST_LIST);
    assert.deepEqual(parsed, { kind: 'index', mediaType: DOCKER_MANIFEST_LIST, manifests: [{ mediaType: DOCKER_MANIFEST, digest: d('1'), size: 5 }] });
  });

  it('takes the media type from Content-Type, else from the shape, when the document has none', () => {
    const index = json({ schemaVersion: 2, manifests: [] });
    assert.equal((parseManifest(index, `${OCI_INDEX}; charset=utf-8`) as { mediaType: string }).mediaType, OCI_INDEX);
    assert.equal((parseManifest(index, 'application/octet-stream') as { mediaType: string }).mediaType, OCI_INDEX);
  });

  const refusals: [string, Buffer, RegExp][] = [
    ['not JSON', Buffer.from('{'), /not JSON/],
    ['schema 1', json({ schemaVersion: 1, fsLayers: [] }), /schemaVersion/],
    ['an unknown media type', json({ schemaVersion: 2, mediaType: 'application/x-foo', config: {} }), /unsupported/],
    ['a malformed digest', json({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { digest: 'sha256:zz', size: 1 }, layers: [] }), /digest/],
    ['a negative size', json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ digest: d('a'), size: -1 }] }), /size/],
    ['manifests that are not a list', json({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: {} }), /not a list/],
  ];
  for (const [name, bytes, reason] of refusals) {
    it(`refuses ${name}`, () => {
      const parsed = parseManifest(bytes, undefined);
      assert.equal(typeof parsed, 'string');
      assert.match(parsed as string, reason);
    });
  }
});

it('digests bytes with the algorithm of the digest they are compared with', () => {
  assert.equal(digestOf(Buffer.from('')), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.match(digestOf(Buffer.from(''), `sha512:${'0'.repeat(128)}`), /^sha512:cf83e135/);
});
