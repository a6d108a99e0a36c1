import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentialPolicy, MemoryCluster, MemoryThoth, memoryPipeline } from '../../test/fakes/in-memory-cluster.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { analyzeObject, type PipelineDeps } from '../pipeline/analyze.js';
import { imageStreamSource } from './imagestream-source.js';
import { parseSubmittedImages } from './submitted-images.js';

type Json = Record<string, unknown>;
const stream = JSON.parse(readFileSync(new URL('./fixtures/imagestream-v1.json', import.meta.url), 'utf8')) as Json;
const REG = 'image-registry.openshift-image-registry.svc:5000';
const RUBY = 'sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d';
const LATEST = 'sha256:909de62d1f609a717ec433cc25ca5cf00941545c83a01fb31527771e1fab3fc5';
const TOKEN = 'sha256~imagestream-test-token-value';
const KEY = 'image.openshift.io/v1/ImageStream';

let dir: string;
let tokenFile: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bw-imagestream-source-'));
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, TOKEN);
});
after(async () => rm(dir, { recursive: true, force: true }));

function deps(cluster: MemoryCluster, thoth: MemoryThoth, passToken = false, maxImagesPerPass?: number): PipelineDeps {
  const source = imageStreamSource({
    credentials: credentialPolicy({ passToken, tokenFile, sourceRegistryVerifyTls: false }),
    ...(maxImagesPerPass !== undefined ? { maxImagesPerPass } : {}),
  });
  return memoryPipeline(cluster, thoth, new Map([[KEY, source]]));
}

const ref = { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', namespace: 'myproject', name: 'ruby' };

describe('ImageStreams as a source kind', () => {
  it('submits every current tag image once with /analyze, oldest first, and records them on the stream', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const live = cluster.put(stream);
    const pipeline = deps(cluster, thoth);
    assert.equal(pipeline.sources.get(KEY)?.read(live).skipReason('add'), undefined);

    const outcome = await analyzeObject({ payload: live, ref: live, action: 'add' }, pipeline);
    assert.equal(outcome.kind, 'submitted');
    assert.equal(thoth.builds.length, 0, 'ImageStream tags never go to /build-analysis');
    assert.deepEqual(thoth.images.map((request) => request.image), [`docker.io/library/ruby@${RUBY}`, `${REG}/myproject/ruby@${LATEST}`]);

    const marked = cluster.get(ref);
    const { record } = parseSubmittedImages(marked?.annotations[ANNOTATIONS.submittedImages]);
    assert.deepEqual(Object.fromEntries(record.tags), { '3.3': [RUBY], latest: [LATEST] });
    assert.equal(marked?.annotations[ANNOTATIONS.submittedAt], undefined, 'a stream is never done: no submitted-at');
    assert.equal(pipeline.sources.get(KEY)?.read(marked!).skipReason('update'), 'nothing-new');

    const replay = await analyzeObject({ payload: live, ref: live, action: 'update' }, pipeline);
    assert.equal(replay.kind, 'ignored');
    assert.equal(thoth.images.length, 2);
  });

  it('submits a tag moved to a new image, and only that one', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    cluster.put(stream);
    const pipeline = deps(cluster, thoth);
    await analyzeObject({ ref, action: 'add' }, pipeline);
    const marked = cluster.get(ref)!;
    const NEW = 'sha256:07626e3c7fdd28d5328a8d6df8d29cd3da760c7f5e2070b534f9b880ed093a53';
    const status = structuredClone(marked.raw['status']) as { tags: { tag: string; items: Json[] }[] };
    status.tags[1]?.items.unshift({ created: '2026-11-22T00:00:00Z', dockerImageReference: `${REG}/myproject/ruby@${NEW}`, image: NEW, generation: 6 });
    cluster.put({ ...marked.raw, status });
    await analyzeObject({ ref, action: 'update' }, pipeline);
    assert.deepEqual(thoth.images.map((request) => request.image).slice(2), [`${REG}/myproject/ruby@${NEW}`]);
  });

  it('sends the token only to the stream\'s own registry host, never to the source of an imported tag', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    cluster.put(stream);
    await analyzeObject({ ref, action: 'add' }, deps(cluster, thoth, true));
    const [imported, pushed] = thoth.images;
    assert.equal(imported?.credentials, undefined);
    assert.equal(imported?.verifyTls, true);
    assert.equal(pushed?.credentials?.password, TOKEN);
    assert.equal(pushed?.verifyTls, false);
  });

  it('submits at most a few images per pass; marking brings the next pass', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const digest = (i: number) => `sha256:${i.toString(16).padStart(64, 'a')}`;
    const tags = Array.from({ length: 5 }, (_, i) => ({
      tag: `v${i}`,
      items: [{ created: `2026-11-0${i + 1}T00:00:00Z`, dockerImageReference: `${REG}/myproject/ruby@${digest(i)}`, image: digest(i), generation: 1 }],
    }));
    cluster.put({ ...stream, status: { ...(stream['status'] as Json), tags: tags.reverse() } });
    const pipeline = deps(cluster, thoth, false, 2);
    const passes: number[] = [];
    for (let pass = 0; pass < 4; pass++) {
      const before = thoth.images.length;
      await analyzeObject({ ref, action: 'update' }, pipeline);
      passes.push(thoth.images.length - before);
    }
    assert.deepEqual(passes, [2, 2, 1, 0]);
    assert.deepEqual(thoth.images.map((request) => request.image.slice(-64)), [0, 1, 2, 3, 4].map((i) => digest(i).slice(7)), 'oldest first, each once');
  });

  it('records refused images too, so a stream whose oldest tags are all refused still reaches its newest (B1)', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const digest = (i: number) => `sha256:${i.toString(16).padStart(64, 'b')}`;
    const old = Array.from({ length: 5 }, (_, i) => ({
      tag: `old-${i}`,
      items: [{ created: `2026-10-0${i + 1}T00:00:00Z`, dockerImageReference: `${REG}/myproject/ruby@${digest(i)}`, image: digest(i), generation: 1 }],
    }));
    const newest = { tag: 'latest', items: [{ created: '2026-11-20T00:00:00Z', dockerImageReference: `${REG}/myproject/ruby@${digest(9)}`, image: digest(9), generation: 1 }] };
    cluster.put({ ...stream, status: { ...(stream['status'] as Json), tags: [newest, ...old] } });
    thoth.refuse = (image) => !image.endsWith(digest(9).slice(7));
    const pipeline = deps(cluster, thoth, false, 1);
    // Each pass's mark is an update event, which brings the next pass.
    for (let pass = 0; pass < 8 && thoth.images.length === 0; pass++) await analyzeObject({ ref, action: 'update' }, pipeline);
    assert.deepEqual(thoth.images.map((request) => request.image), [`${REG}/myproject/ruby@${digest(9)}`]);
    const record = cluster.get(ref)?.annotations[ANNOTATIONS.submittedImages] ?? '';
    for (let i = 0; i < 5; i++) assert.ok(record.includes(digest(i)), `refused ${digest(i)} is recorded, never picked again`);
  });
});
