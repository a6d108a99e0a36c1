import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ImageReference } from '../domain/built-image.js';
import type { RunExtraction, Skipped } from './run.js';
import { extractShipwrightImage } from './shipwright.js';
import { throughTheBoundary } from '../../test/fakes/in-memory-cluster.js';

/** Extraction starts where the boundary ends: at a validated object. */
const { extract, readOrRefuse } = throughTheBoundary(extractShipwrightImage);

type Json = Record<string, unknown>;
const fixture = (name: string): Json => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as Json;

const DIGEST = 'sha256:07626e3c7fdd28d5328a8d6df8d29cd3da760c7f5e2070b534f9b880ed093a53';
const REG = 'image-registry.openshift-image-registry.svc:5000';
const base = fixture('buildrun-v1beta1.json');
const baseStatus = base['status'] as Json;
const ref = {
  apiVersion: 'shipwright.io/v1beta1',
  kind: 'BuildRun',
  namespace: 'builds',
  name: 'buildah-buildrun-8tq4l',
  uid: '4d0b9e1c-7a6f-4e21-9c3d-2b1a0f9e8d7c',
};

function variant(change: { spec?: unknown; status?: Json }): Json {
  return { ...base, ...(change.spec !== undefined ? { spec: change.spec } : {}), status: { ...baseStatus, ...change.status } };
}

function succeeded(result: RunExtraction): { images: readonly ImageReference[]; skipped: readonly Skipped[] } {
  assert.equal(result.state, 'succeeded', JSON.stringify(result));
  if (result.state !== 'succeeded') throw new Error('unreachable');
  return result;
}

describe('extractShipwrightImage', () => {
  it('the documented BuildRun: status.output.digest on the Build snapshot image', () => {
    assert.deepEqual(extract(base), {
      state: 'succeeded',
      ref,
      outcome: 'Succeeded',
      images: [{ registry: REG, repository: 'builds/sample-go', digest: DIGEST }],
      skipped: [],
    });
  });

  const images: Array<[string, Json, ImageReference]> = [
    [
      'spec.output.image overrides the Build snapshot',
      variant({ spec: { build: { name: 'buildah-build' }, output: { image: 'quay.io/me/override:dev' } } }),
      { registry: 'quay.io', repository: 'me/override', tag: 'dev', digest: DIGEST },
    ],
    [
      'an empty spec.output.image does not override',
      variant({ spec: { build: { name: 'buildah-build' }, output: { image: '' } } }),
      { registry: REG, repository: 'builds/sample-go', digest: DIGEST },
    ],
    [
      'an embedded Build spec is used when the snapshot is missing',
      variant({ spec: { build: { spec: { output: { image: 'ghcr.io/org/embedded' } } } }, status: { buildSpec: undefined } }),
      { registry: 'ghcr.io', repository: 'org/embedded', digest: DIGEST },
    ],
    [
      'an output image already pinned to the same digest',
      variant({ spec: { output: { image: `quay.io/me/app@${DIGEST}` } } }),
      { registry: 'quay.io', repository: 'me/app', digest: DIGEST },
    ],
  ];
  for (const [name, input, image] of images) {
    it(name, () => assert.deepEqual(succeeded(extract(input)).images, [image]));
  }

  const skips: Array<[string, Json, Skipped]> = [
    [
      'no digest: the strategy does not emit shp-image-digest',
      variant({ status: { output: undefined } }),
      { name: 'status.output.digest', why: 'absent: the build strategy does not report the image digest' },
    ],
    ['an empty digest', variant({ status: { output: { digest: '', size: 1 } } }), { name: 'status.output.digest', why: 'absent: the build strategy does not report the image digest' }],
    ['a digest that is not a string', variant({ status: { output: { digest: 7 } } }), { name: 'status.output.digest', why: 'expected a string' }],
    [
      'a malformed digest',
      variant({ status: { output: { digest: 'sha256:07626e3c' } } }),
      { name: 'status.output.digest', why: 'malformed sha256 digest (expected 64 lowercase hex digits)' },
    ],
    [
      'no output image anywhere',
      variant({ spec: { build: { name: 'x' } }, status: { buildSpec: { output: {} } } }),
      { name: 'output image', why: 'none of spec.output.image, status.buildSpec.output.image, spec.build.spec.output.image is set' },
    ],
    ['an output image that is not a reference', variant({ spec: { output: { image: 'https://quay.io/me/app' } } }), { name: 'output image', why: 'a URL, not an image reference' }],
    [
      'an output image pinned to another digest',
      variant({ spec: { output: { image: `quay.io/me/app@sha256:${'f'.repeat(64)}` } } }),
      { name: 'output image', why: 'the image reference carries a different digest than the one reported' },
    ],
  ];
  for (const [name, input, skip] of skips) {
    it(`skipped: ${name}`, () => {
      const result = succeeded(extract(input));
      assert.deepEqual(result.images, []);
      assert.deepEqual(result.skipped, [skip]);
    });
  }

  const states: Array<[string, unknown, RunExtraction]> = [
    ['failed', variant({ status: { conditions: [{ type: 'Succeeded', status: 'False', reason: 'Failed' }] } }), { state: 'failed', ref, outcome: 'Failed' }],
    [
      'failed on vulnerabilities, digest present',
      variant({ status: { conditions: [{ type: 'Succeeded', status: 'False', reason: 'VulnerabilitiesFound' }] } }),
      { state: 'failed', ref, outcome: 'VulnerabilitiesFound' },
    ],
    ['pending', variant({ status: { conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Pending' }], output: undefined } }), { state: 'running', ref }],
    [
      'cancel requested (still Unknown)',
      variant({ status: { conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'BuildRunCanceled' }] } }),
      { state: 'running', ref },
    ],
    ['just created', { ...base, status: undefined }, { state: 'running', ref }],
  ];
  for (const [name, input, expected] of states) {
    it(name, () => assert.deepEqual(extract(input), expected));
  }

  const garbage: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['a string', 'BuildRun'],
    ['an array', [base]],
    ['a v1alpha1 BuildRun', { ...base, apiVersion: 'shipwright.io/v1alpha1' }],
    ['no namespace', { ...base, metadata: { name: 'x' } }],
  ];
  for (const [name, input] of garbage) {
    it(`invalid: ${name}`, () => {
      const result = readOrRefuse(input);
      if (result === 'refused at the boundary') return;
      assert.equal(result.state, 'invalid');
      if (result.state === 'invalid') assert.match(result.why, /^not a BuildRun: /);
    });
  }

  it('the commit the source step cloned (status.source.git.commitSha) is the revision; anything but a hex commit id is not', () => {
    const commit = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    const withSource = (source: unknown) => extract(variant({ status: { source } }));
    const revision = (result: RunExtraction) => (result.state === 'succeeded' ? result.revision : 'not succeeded');
    assert.equal(revision(withSource({ git: { commitSha: commit, branchName: 'main' } })), commit);
    assert.equal(revision(withSource({ git: { commitSha: 'main' } })), undefined);
    assert.equal(revision(withSource(undefined)), undefined);
  });
});
