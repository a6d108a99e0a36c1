import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ImageReference } from '../domain/built-image.js';
import type { RunExtraction, Skipped } from './run.js';
import { extractTektonImages } from './tekton.js';
import { throughTheBoundary } from '../../test/fakes/in-memory-cluster.js';

/** Extraction starts where the boundary ends: at a validated object. */
const { extract, readOrRefuse } = throughTheBoundary(extractTektonImages);

type Json = Record<string, unknown>;
const fixture = (name: string): Json => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as Json;

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const C = `sha256:${'c'.repeat(64)}`;
const REG = 'image-registry.openshift-image-registry.svc:5000';

/** A succeeded v1 TaskRun carrying exactly `results`. */
function taskRun(results: unknown, apiVersion = 'tekton.dev/v1', field = 'results'): Json {
  const run = fixture('taskrun-v1.json');
  const status = structuredClone(run['status']) as Json;
  delete status['results'];
  status[field] = results;
  return { ...run, apiVersion, status };
}

function withCondition(run: Json, condition: unknown): Json {
  return { ...run, status: { ...(run['status'] as Json), conditions: condition === undefined ? undefined : [condition] } };
}

function succeeded(result: RunExtraction): { images: readonly ImageReference[]; skipped: readonly Skipped[]; outcome: string } {
  assert.equal(result.state, 'succeeded', JSON.stringify(result));
  if (result.state !== 'succeeded') throw new Error('unreachable');
  return result;
}

describe('extractTektonImages: documented objects', () => {
  it('v1 TaskRun with IMAGE_URL + IMAGE_DIGEST (trailing newlines trimmed)', () => {
    const result = extract(fixture('taskrun-v1.json'));
    assert.deepEqual(result, {
      state: 'succeeded',
      ref: {
        apiVersion: 'tekton.dev/v1',
        kind: 'TaskRun',
        namespace: 'demo',
        name: 'app-build-run-x7k2p-build',
        uid: '6f1d2a30-5b7e-4c0e-9a51-0d7f4b2f8c11',
      },
      outcome: 'Succeeded',
      images: [
        { registry: REG, repository: 'demo/app', tag: 'latest', digest: 'sha256:586789aa031fafc7d78a5393cdc772e0b55107ea54bb8bcf3f2cdac6c6da51ee' },
      ],
      skipped: [],
    });
  });

  it('v1 PipelineRun (reason Completed) with IMAGES and ARTIFACT_OUTPUTS; a purl output is skipped', () => {
    const { images, skipped, outcome } = succeeded(extract(fixture('pipelinerun-v1.json')));
    assert.equal(outcome, 'Completed');
    assert.deepEqual(images, [
      { registry: 'quay.io', repository: 'example/api', digest: 'sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5' },
      { registry: 'quay.io', repository: 'example/worker', tag: 'v2', digest: 'sha256:586789aa031fafc7d78a5393cdc772e0b55107ea54bb8bcf3f2cdac6c6da51ee' },
      { registry: 'quay.io', repository: 'example/cli', digest: 'sha256:9ac0cc7a11f8e8d2d0ba0ec9f6e0f8b2a3c1b5d4e6f708192a3b4c5d6e7f8091' },
    ]);
    assert.deepEqual(skipped.map((s) => s.name), ['sbom-ARTIFACT_OUTPUTS']);
  });

  it('v1beta1 TaskRun reads status.taskResults', () => {
    const { images } = succeeded(extract(fixture('taskrun-v1beta1.json')));
    assert.deepEqual(images, [
      { registry: 'gcr.io', repository: 'example/app', digest: 'sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5' },
    ]);
  });

  it('v1beta1 PipelineRun reads status.pipelineResults', () => {
    const run = { ...taskRun([{ name: 'IMAGES', value: `quay.io/x/y@${A}` }], 'tekton.dev/v1beta1', 'pipelineResults'), kind: 'PipelineRun' };
    assert.deepEqual(succeeded(extract(run)).images, [{ registry: 'quay.io', repository: 'x/y', digest: A }]);
  });

  it('each version reads only its own field name', () => {
    const results = [{ name: 'IMAGES', value: `quay.io/x/y@${A}` }];
    assert.deepEqual(succeeded(extract(taskRun(results, 'tekton.dev/v1beta1', 'results'))).images, []);
    assert.deepEqual(succeeded(extract(taskRun(results, 'tekton.dev/v1', 'taskResults'))).images, []);
  });
});

describe('extractTektonImages: type hints', () => {
  const cases: Array<{ name: string; results: unknown; images: ImageReference[]; skipped?: Skipped[] }> = [
    {
      name: 'prefixed IMAGE_URL/IMAGE_DIGEST pairs, any order, plus the unprefixed pair',
      results: [
        { name: 'second-IMAGE_DIGEST', value: B },
        { name: 'first-image-IMAGE_URL', value: 'quay.io/a/first' },
        { name: 'IMAGE_URL', value: 'quay.io/a/plain:1.0' },
        { name: 'first-image-IMAGE_DIGEST', value: A },
        { name: 'second-IMAGE_URL', value: 'quay.io/a/second' },
        { name: 'IMAGE_DIGEST', value: C },
      ],
      images: [
        { registry: 'quay.io', repository: 'a/second', digest: B },
        { registry: 'quay.io', repository: 'a/first', digest: A },
        { registry: 'quay.io', repository: 'a/plain', tag: '1.0', digest: C },
      ],
    },
    {
      name: 'IMAGES with commas, newlines, CRLF, blanks and surrounding whitespace',
      results: [{ name: 'IMAGES', value: `  quay.io/a/one@${A} ,\n\n quay.io/a/two:t@${B}\r\n, ,\tquay.io/a/three@${C}\n` }],
      images: [
        { registry: 'quay.io', repository: 'a/one', digest: A },
        { registry: 'quay.io', repository: 'a/two', tag: 't', digest: B },
        { registry: 'quay.io', repository: 'a/three', digest: C },
      ],
    },
    {
      name: 'IMAGES entries without a valid digest are skipped, the others kept',
      results: [{ name: 'IMAGES', value: `quay.io/a/one@${A}\nquay.io/a/tagonly:latest\nimg1@sha256:digest1\nBAD REF@${B}` }],
      images: [{ registry: 'quay.io', repository: 'a/one', digest: A }],
      skipped: [
        { name: 'IMAGES', why: 'entry 2: no digest' },
        { name: 'IMAGES', why: 'entry 3: malformed sha256 digest (expected 64 lowercase hex digits)' },
        { name: 'IMAGES', why: 'entry 4: image reference contains whitespace or control characters' },
      ],
    },
    {
      name: 'ARTIFACT_URI/ARTIFACT_DIGEST pairs',
      results: [
        { name: 'app-ARTIFACT_URI', value: 'ghcr.io/org/app' },
        { name: 'app-ARTIFACT_DIGEST', value: A },
        { name: 'ARTIFACT_URI', value: 'https://example.com/file.tgz' },
        { name: 'ARTIFACT_DIGEST', value: B },
      ],
      images: [{ registry: 'ghcr.io', repository: 'org/app', digest: A }],
      skipped: [{ name: 'ARTIFACT_URI', why: 'a URL, not an image reference' }],
    },
    {
      name: 'ARTIFACT_OUTPUTS objects; ARTIFACT_INPUTS are not outputs',
      results: [
        { name: 'x-ARTIFACT_OUTPUTS', type: 'object', value: { uri: ' quay.io/a/x ', digest: `${A}\n`, isBuildArtifact: 'true' } },
        { name: 'ARTIFACT_OUTPUTS', type: 'object', value: { uri: 'quay.io/a/y', digest: B } },
        { name: 'src-ARTIFACT_INPUTS', type: 'object', value: { uri: 'quay.io/a/base', digest: C } },
      ],
      images: [
        { registry: 'quay.io', repository: 'a/x', digest: A },
        { registry: 'quay.io', repository: 'a/y', digest: B },
      ],
    },
    {
      name: 'malformed ARTIFACT_OUTPUTS',
      results: [
        { name: 'a-ARTIFACT_OUTPUTS', value: `{"uri":"quay.io/a/x","digest":"${A}"}` },
        { name: 'b-ARTIFACT_OUTPUTS', value: { uri: 'quay.io/a/x' } },
        { name: 'c-ARTIFACT_OUTPUTS', value: { digest: A } },
        { name: 'd-ARTIFACT_OUTPUTS', value: { uri: 'quay.io/a/x', digest: 'sha1:7f2f46e1b97df36b2b82d1b1d87c81b8b3d21601' } },
        { name: 'e-ARTIFACT_OUTPUTS', value: ['quay.io/a/x', A] },
      ],
      images: [],
      skipped: [
        { name: 'a-ARTIFACT_OUTPUTS', why: 'expected an object {uri, digest}' },
        { name: 'b-ARTIFACT_OUTPUTS', why: 'missing digest' },
        { name: 'c-ARTIFACT_OUTPUTS', why: 'missing uri' },
        { name: 'd-ARTIFACT_OUTPUTS', why: 'unsupported digest algorithm (expected sha256 or sha512)' },
        { name: 'e-ARTIFACT_OUTPUTS', why: 'expected an object {uri, digest}' },
      ],
    },
    {
      name: 'the same image through several hints is reported once (the tag of the first kept)',
      results: [
        { name: 'IMAGE_URL', value: 'quay.io/a/x:v1' },
        { name: 'IMAGE_DIGEST', value: A },
        { name: 'IMAGES', value: `quay.io/a/x:v2@${A},quay.io/a/x@${A}, quay.io/a/other@${A}` },
        { name: 'o-ARTIFACT_OUTPUTS', value: { uri: 'quay.io/a/x', digest: A } },
      ],
      images: [
        { registry: 'quay.io', repository: 'a/x', tag: 'v1', digest: A },
        { registry: 'quay.io', repository: 'a/other', digest: A },
      ],
    },
    {
      name: 'a URL without its digest, or a digest without its URL, is skipped',
      results: [
        { name: 'lonely-IMAGE_URL', value: 'quay.io/a/x' },
        { name: 'orphan-IMAGE_DIGEST', value: A },
      ],
      images: [],
      skipped: [
        { name: 'lonely-IMAGE_URL', why: 'no matching lonely-IMAGE_DIGEST result' },
        { name: 'orphan-IMAGE_DIGEST', why: 'no matching orphan-IMAGE_URL result' },
      ],
    },
    {
      name: 'invalid digests are skipped',
      results: [
        { name: 'IMAGE_URL', value: 'quay.io/a/x' },
        { name: 'IMAGE_DIGEST', value: A.toUpperCase() },
        { name: 'b-IMAGE_URL', value: 'quay.io/a/y' },
        { name: 'b-IMAGE_DIGEST', value: 'a'.repeat(64) },
      ],
      images: [],
      skipped: [
        { name: 'IMAGE_URL', why: 'unsupported digest algorithm (expected sha256 or sha512)' },
        { name: 'b-IMAGE_URL', why: 'digest without an algorithm (expected sha256:<64 hex> or sha512:<128 hex>)' },
      ],
    },
    {
      name: 'empty and non-string values are reported once, not again as a missing partner',
      results: [
        { name: 'IMAGE_URL', value: '  \n' },
        { name: 'IMAGE_DIGEST', value: A },
        { name: 'b-IMAGE_URL', value: ['quay.io/a/y'] },
        { name: 'b-IMAGE_DIGEST', value: B },
        { name: 'IMAGES', value: { a: 1 } },
      ],
      images: [],
      skipped: [
        { name: 'IMAGE_URL', why: 'empty value' },
        { name: 'b-IMAGE_URL', why: 'expected a string value' },
        { name: 'IMAGES', why: 'expected a string value' },
      ],
    },
    {
      name: 'a URL that carries its own digest must agree with IMAGE_DIGEST',
      results: [
        { name: 'IMAGE_URL', value: `quay.io/a/x@${A}` },
        { name: 'IMAGE_DIGEST', value: A },
        { name: 'b-IMAGE_URL', value: `quay.io/a/y@${A}` },
        { name: 'b-IMAGE_DIGEST', value: B },
      ],
      images: [{ registry: 'quay.io', repository: 'a/x', digest: A }],
      skipped: [{ name: 'b-IMAGE_URL', why: 'the image reference carries a different digest than the one reported' }],
    },
    {
      name: 'sha512 digests are accepted',
      results: [{ name: 'IMAGES', value: `quay.io/a/x@sha512:${'e'.repeat(128)}` }],
      images: [{ registry: 'quay.io', repository: 'a/x', digest: `sha512:${'e'.repeat(128)}` }],
    },
    {
      name: 'unrelated results are ignored silently',
      results: [
        { name: 'commit', value: 'abc' },
        { name: 'url', value: 'https://github.com/x/y' },
        { name: 'IMAGE', value: 'quay.io/a/x' },
      ],
      images: [],
    },
    {
      name: 'garbage entries and duplicate names are skipped',
      results: [null, 'IMAGES', { value: 'x' }, { name: '', value: 'x' }, { name: 'IMAGES', value: `q.io/a/x@${A}` }, { name: 'IMAGES', value: `q.io/a/y@${B}` }],
      images: [{ registry: 'q.io', repository: 'a/x', digest: A }],
      skipped: [
        { name: 'status.results[0]', why: 'expected {name, value}' },
        { name: 'status.results[1]', why: 'expected {name, value}' },
        { name: 'status.results[2]', why: 'expected {name, value}' },
        { name: 'status.results[3]', why: 'expected {name, value}' },
        { name: 'IMAGES', why: 'duplicate result name; the first one is used' },
      ],
    },
    { name: 'results that are not a list', results: { IMAGES: `q.io/a/x@${A}` }, images: [], skipped: [{ name: 'status.results', why: 'expected a list' }] },
    { name: 'no results at all', results: undefined, images: [] },
  ];
  for (const { name, results, images, skipped = [] } of cases) {
    it(name, () => {
      const result = succeeded(extract(taskRun(results)));
      assert.deepEqual(result.images, images);
      assert.deepEqual(result.skipped, skipped);
    });
  }

  it('never echoes result values in skip reasons', () => {
    const secret = 'quay.io/a/x:s3cr3t-t0ken';
    const result = succeeded(extract(taskRun([{ name: 'IMAGE_URL', value: secret }, { name: 'IMAGE_DIGEST', value: 'sha256:s3cr3t' }])));
    assert.equal(result.skipped.length, 1);
    assert.ok(!JSON.stringify(result.skipped).includes('s3cr3t'));
  });

  it('bounds the skipped list', () => {
    const results = Array.from({ length: 100 }, (_, i) => ({ name: `n${i}-IMAGE_URL`, value: 'quay.io/a/x' }));
    const { skipped } = succeeded(extract(taskRun(results)));
    assert.equal(skipped.length, 33);
    assert.deepEqual(skipped.at(-1), { name: '…', why: '68 more skipped' });
  });
});

describe('extractTektonImages: unfinished, failed and garbage', () => {
  const results = [{ name: 'IMAGES', value: `quay.io/a/x@${A}` }];
  const base = taskRun(results);
  const ref = { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', namespace: 'demo', name: 'app-build-run-x7k2p-build', uid: '6f1d2a30-5b7e-4c0e-9a51-0d7f4b2f8c11' };

  const states: Array<[string, unknown, RunExtraction]> = [
    ['Succeeded False (Failed)', withCondition(base, { type: 'Succeeded', status: 'False', reason: 'Failed' }), { state: 'failed', ref, outcome: 'Failed' }],
    ['cancelled', withCondition(base, { type: 'Succeeded', status: 'False', reason: 'TaskRunCancelled' }), { state: 'failed', ref, outcome: 'TaskRunCancelled' }],
    ['PipelineRun timed out', { ...withCondition(base, { type: 'Succeeded', status: 'False', reason: 'PipelineRunTimeout' }), kind: 'PipelineRun' }, { state: 'failed', ref: { ...ref, kind: 'PipelineRun' }, outcome: 'PipelineRunTimeout' }],
    ['Succeeded Unknown (Running)', withCondition(base, { type: 'Succeeded', status: 'Unknown', reason: 'Running' }), { state: 'running', ref }],
    ['no conditions yet', withCondition(base, undefined), { state: 'running', ref }],
    ['only other condition types', withCondition(base, { type: 'Ready', status: 'True' }), { state: 'running', ref }],
    ['no status', { ...base, status: undefined }, { state: 'running', ref }],
    ['status not an object', { ...base, status: 'done' }, { state: 'invalid', why: 'status: expected an object', ref }],
    ['conditions not a list', { ...base, status: { conditions: { type: 'Succeeded' } } }, { state: 'invalid', why: 'status.conditions: expected a list', ref }],
  ];
  for (const [name, input, expected] of states) {
    it(name, () => assert.deepEqual(extract(input), expected));
  }

  it('a True condition without a reason still counts as succeeded', () => {
    assert.equal(succeeded(extract(withCondition(base, { type: 'Succeeded', status: 'True' }))).outcome, 'Succeeded');
  });

  const garbage: Array<[string, unknown, RegExp]> = [
    ['undefined', undefined, /^not a TaskRun or PipelineRun: expected an object$/],
    ['null', null, /expected an object/],
    ['a number', 42, /expected an object/],
    ['a string', '{"kind":"TaskRun"}', /expected an object/],
    ['an array', [base], /expected an object/],
    ['an empty object', {}, /expected apiVersion\/kind tekton.dev\/v1\/TaskRun or/],
    ['an unknown Tekton version', { ...base, apiVersion: 'tekton.dev/v1alpha1' }, /not a TaskRun or PipelineRun/],
    ['a Tekton kind we do not read', { ...base, kind: 'CustomRun' }, /not a TaskRun or PipelineRun/],
    ['no metadata', { ...base, metadata: undefined }, /metadata/],
    ['a bad name', { ...base, metadata: { name: 'Not_A_Name', namespace: 'demo' } }, /name/],
  ];
  for (const [name, input, why] of garbage) {
    it(`invalid: ${name}`, () => {
      const result = readOrRefuse(input);
      if (result === 'refused at the boundary') return;
      assert.equal(result.state, 'invalid');
      if (result.state === 'invalid') {
        assert.match(result.why, why);
        assert.equal(result.ref, undefined);
      }
    });
  }

  it('the result CHAINS-GIT_COMMIT (Chains\' type hint) is the revision; anything but a hex commit id is not', () => {
    const commit = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    const image = [{ name: 'IMAGE_URL', value: `${REG}/ns/app` }, { name: 'IMAGE_DIGEST', value: A }];
    const revision = (result: RunExtraction) => (result.state === 'succeeded' ? result.revision : 'not succeeded');
    assert.equal(revision(extract(taskRun([...image, { name: 'CHAINS-GIT_COMMIT', value: commit }]))), commit);
    assert.equal(revision(extract(taskRun([...image, { name: 'CHAINS-GIT_COMMIT', value: 'HEAD' }]))), undefined);
    assert.equal(revision(extract(taskRun(image))), undefined);
  });
});
