import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ANNOTATIONS } from '../domain/annotations.js';
import { pendingImages, readImageStream, type ImageStreamRead, type StreamTag } from './imagestream.js';
import { EMPTY_SUBMITTED_IMAGES, parseSubmittedImages, recordSubmitted } from './submitted-images.js';
import { throughTheBoundary } from '../../test/fakes/in-memory-cluster.js';

/** Extraction starts where the boundary ends: at a validated object. */
const { extract, readOrRefuse } = throughTheBoundary(readImageStream);

type Json = Record<string, unknown>;
const fixture = (name: string): Json => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as Json;

const RUBY = 'sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d';
const LATEST = 'sha256:909de62d1f609a717ec433cc25ca5cf00941545c83a01fb31527771e1fab3fc5';
const REG = 'image-registry.openshift-image-registry.svc:5000';
const base = fixture('imagestream-v1.json');
const baseMetadata = base['metadata'] as Json;

function withTags(tags: unknown, annotation?: string): Json {
  const annotations = { ...(baseMetadata['annotations'] as Json), ...(annotation !== undefined ? { [ANNOTATIONS.submittedImages]: annotation } : {}) };
  return { ...base, metadata: { ...baseMetadata, annotations }, status: { ...(base['status'] as Json), tags } };
}

function read(value: unknown): ImageStreamRead & { state: 'read' } {
  const result = extract(value);
  assert.equal(result.state, 'read', JSON.stringify(result));
  if (result.state !== 'read') throw new Error('unreachable');
  return result;
}

const item = (image: string, reference: string, created = '2026-11-20T00:00:00Z') => ({ image, dockerImageReference: reference, created, generation: 1 });

describe('readImageStream', () => {
  it('the documented stream: an imported tag and a pushed tag, items[0] is current', () => {
    const result = read(base);
    assert.deepEqual(result.ref, {
      apiVersion: 'image.openshift.io/v1',
      kind: 'ImageStream',
      namespace: 'myproject',
      name: 'ruby',
      uid: 'b1f0c2d3-e4a5-4b6c-8d7e-9f0a1b2c3d4e',
    });
    assert.deepEqual(result.tags, [
      {
        tag: '3.3',
        digest: RUBY,
        created: '2026-11-19T09:00:00Z',
        image: { registry: 'docker.io', repository: 'library/ruby', digest: RUBY },
      },
      {
        tag: 'latest',
        digest: LATEST,
        created: '2026-11-20T14:02:11Z',
        image: { registry: REG, repository: 'myproject/ruby', tag: 'latest', digest: LATEST },
      },
    ]);
    assert.equal(result.submitted, EMPTY_SUBMITTED_IMAGES);
    assert.deepEqual(result.skipped, []);
  });

  it('reads the submitted-images annotation', () => {
    const result = read(withTags((base['status'] as Json)['tags'], JSON.stringify({ latest: [LATEST] })));
    assert.deepEqual(Object.fromEntries(result.submitted.tags), { latest: [LATEST] });
  });

  it('a garbage annotation reads as empty and is reported', () => {
    const result = read(withTags([], '{"latest": "nope"}'));
    assert.equal(result.submitted, EMPTY_SUBMITTED_IMAGES);
    assert.deepEqual(result.skipped, [{ name: ANNOTATIONS.submittedImages, why: 'tag latest: expected a list of digests; read as empty' }]);
  });

  const bad = `sha256:${'e'.repeat(64)}`;
  const skips: Array<[string, unknown, { name: string; why: string }]> = [
    ['a tag without items (failed import)', { tag: 'broken', conditions: [{ type: 'ImportSuccess', status: 'False' }] }, { name: 'broken', why: 'no image yet' }],
    ['a tag with an empty item list', { tag: 'empty', items: [] }, { name: 'empty', why: 'no image yet' }],
    ['not an object', 'latest', { name: 'status.tags[]', why: 'expected {tag, items}' }],
    ['a tag name that is not one', { tag: 'a/b', items: [item(bad, `quay.io/a/b@${bad}`)] }, { name: 'status.tags[]', why: 'expected {tag, items}' }],
    ['items not a list', { tag: 'x', items: { image: bad } }, { name: 'x', why: 'items[0]: expected an object' }],
    ['a missing image digest', { tag: 'x', items: [{ dockerImageReference: 'quay.io/a/b' }] }, { name: 'x', why: 'items[0].image: expected a digest' }],
    ['a malformed image digest', { tag: 'x', items: [item('sha256:123', 'quay.io/a/b')] }, { name: 'x', why: 'items[0].image: malformed sha256 digest (expected 64 lowercase hex digits)' }],
    ['a missing reference', { tag: 'x', items: [{ image: bad }] }, { name: 'x', why: 'items[0].dockerImageReference: expected a string' }],
    ['a malformed reference', { tag: 'x', items: [item(bad, 'Quay.IO/A/B')] }, { name: 'x', why: 'items[0].dockerImageReference: repository name must be lowercase' }],
    [
      'a reference pinned to another digest',
      { tag: 'x', items: [item(bad, `quay.io/a/b@${RUBY}`)] },
      { name: 'x', why: 'items[0].dockerImageReference names another digest than items[0].image' },
    ],
  ];
  for (const [name, entry, skip] of skips) {
    it(`skips ${name}`, () => {
      const result = read(withTags([entry, { tag: 'ok', items: [item(bad, `quay.io/a/b@${bad}`)] }]));
      assert.deepEqual(result.tags.map((t) => t.tag), ['ok']);
      assert.deepEqual(result.skipped, [skip]);
    });
  }

  it('keeps the first of duplicate tags, and a reference tag on foreign images', () => {
    const result = read(withTags([
      { tag: 'v1', items: [item(bad, 'quay.io/a/b:v1.0')] },
      { tag: 'v1', items: [item(RUBY, 'quay.io/a/c')] },
    ]));
    assert.deepEqual(result.tags.map((t) => t.image), [{ registry: 'quay.io', repository: 'a/b', tag: 'v1.0', digest: bad }]);
    assert.deepEqual(result.skipped, [{ name: 'v1', why: 'duplicate tag; the first one is used' }]);
  });

  it('drops an unparseable created time instead of the tag', () => {
    const result = read(withTags([{ tag: 'x', items: [item(bad, 'quay.io/a/b', 'last tuesday')] }]));
    assert.equal(result.tags[0]?.created, undefined);
  });

  it('a stream without status has no tags', () => {
    assert.deepEqual(read({ ...base, status: undefined }).tags, []);
  });

  const garbage: Array<[string, unknown, RegExp]> = [
    ['null', null, /^not an ImageStream: expected an object$/],
    ['a number', 7, /expected an object/],
    ['an ImageStreamTag', { ...base, kind: 'ImageStreamTag' }, /not an ImageStream/],
    ['bad annotations', { ...base, metadata: { ...baseMetadata, annotations: { a: 1 } } }, /annotations/],
    ['status not an object', { ...base, status: [] }, /^status: expected an object$/],
    ['status.tags not a list', { ...base, status: { tags: {} } }, /^status.tags: expected a list$/],
  ];
  for (const [name, value, why] of garbage) {
    it(`invalid: ${name}`, () => {
      const result = readOrRefuse(value);
      if (result === 'refused at the boundary') return;
      assert.equal(result.state, 'invalid');
      if (result.state === 'invalid') assert.match(result.why, why);
    });
  }
});

describe('pendingImages', () => {
  const D = (n: number) => `sha256:${String(n).padStart(64, '0')}`;
  const tag = (name: string, digest: string, created?: string): StreamTag => ({
    tag: name,
    digest,
    ...(created !== undefined ? { created } : {}),
    image: { registry: 'quay.io', repository: 'a/b', tag: name, digest },
  });

  it('everything is pending on a fresh stream, oldest first', () => {
    const { tags, submitted } = read(base);
    assert.deepEqual(pendingImages(tags, submitted), [
      { image: tags[0]?.image, tags: ['3.3'], created: '2026-11-19T09:00:00Z' },
      { image: tags[1]?.image, tags: ['latest'], created: '2026-11-20T14:02:11Z' },
    ]);
  });

  it('one entry per digest, listing every tag on it; undated last', () => {
    const tags = [tag('c', D(3)), tag('a', D(1), '2026-01-02T00:00:00Z'), tag('b', D(1), '2026-01-01T00:00:00Z'), tag('d', D(2), '2026-01-03T00:00:00Z')];
    assert.deepEqual(pendingImages(tags, EMPTY_SUBMITTED_IMAGES).map((p) => [p.image.digest, p.tags, p.created]), [
      [D(1), ['a', 'b'], '2026-01-01T00:00:00Z'],
      [D(2), ['d'], '2026-01-03T00:00:00Z'],
      [D(3), ['c'], undefined],
    ]);
  });

  it('a replay after recording submits nothing; a moved tag submits once', () => {
    const first = read(base);
    const submitted = pendingImages(first.tags, first.submitted).map((p) => p.image.digest);
    const annotation = recordSubmitted(first.submitted, first.tags, submitted).value;

    const replay = read(withTags((base['status'] as Json)['tags'], annotation));
    assert.deepEqual(pendingImages(replay.tags, replay.submitted), []);

    const moved = `sha256:${'7'.repeat(64)}`;
    const tags = structuredClone((base['status'] as Json)['tags']) as Json[];
    (tags[1]?.['items'] as unknown[]).unshift(item(moved, `${REG}/myproject/ruby@${moved}`, '2026-11-22T00:00:00Z'));
    const update = read(withTags(tags, annotation));
    assert.deepEqual(pendingImages(update.tags, update.submitted).map((p) => [p.tags, p.image.digest]), [[['latest'], moved]]);

    const back = recordSubmitted(update.submitted, update.tags, [moved]).value;
    assert.deepEqual(Object.fromEntries(parseSubmittedImages(back).record.tags), { '3.3': [RUBY], latest: [moved, LATEST] });
  });
});
