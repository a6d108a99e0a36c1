import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentialPolicy, MemoryCluster, MemoryThoth, memoryPipeline } from '../../test/fakes/in-memory-cluster.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { BuildWatcherError } from '../errors.js';
import { analyzeObject, type PipelineDeps } from '../pipeline/analyze.js';
import type { SourceKind } from '../pipeline/source-kind.js';
import { runSweep } from '../sweep/sweep.js';
import { shipwrightSource } from './shipwright-source.js';
import { tektonSource } from './tekton-source.js';

type Json = Record<string, unknown>;
const fixture = (name: string): Json => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as Json;
const REG = 'image-registry.openshift-image-registry.svc:5000';
const APP_DIGEST = 'sha256:586789aa031fafc7d78a5393cdc772e0b55107ea54bb8bcf3f2cdac6c6da51ee';
const API_DIGEST = 'sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5';
const TOKEN = 'sha256~not-a-real-token-but-long-enough-to-redact';

let dir: string;
let tokenFile: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bw-run-source-'));
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`);
});
after(async () => rm(dir, { recursive: true, force: true }));

function options(overrides: { passToken?: boolean; sendOutputImage?: boolean; taskRunsSubmit?: boolean } = {}) {
  return {
    sendOutputImage: overrides.sendOutputImage ?? true,
    taskRunsSubmit: overrides.taskRunsSubmit ?? true,
    credentials: credentialPolicy({ passToken: overrides.passToken ?? false, tokenFile, sourceRegistryVerifyTls: false }),
  };
}

function pipeline(cluster: MemoryCluster, thoth: MemoryThoth, sources: Record<string, SourceKind>): PipelineDeps {
  return memoryPipeline(cluster, thoth, new Map(Object.entries(sources)), { analysisOptions: { environmentType: 'runtime' } });
}

const withStatus = (object: Json, status: Json): Json => ({ ...object, status });
const ref = (object: { apiVersion: string; kind: string; namespace: string; name: string }) => ({
  apiVersion: object.apiVersion,
  kind: object.kind,
  namespace: object.namespace,
  name: object.name,
});

describe('Tekton TaskRun as a source kind', () => {
  it('submits the built image once, by digest, and marks the run like a Build', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const source = tektonSource(options());
    const run = cluster.put(fixture('taskrun-v1.json'));
    assert.equal(source.read(run).skipReason('update'), undefined);
    const deps = pipeline(cluster, thoth, { 'tekton.dev/v1/TaskRun': source });

    const first = await analyzeObject({ payload: run, ref: run, action: 'update' }, deps);
    assert.equal(first.kind, 'submitted');
    assert.deepEqual(thoth.builds.map((request) => request.output?.image), [`${REG}/demo/app@${APP_DIGEST}`]);
    assert.equal(thoth.builds[0]?.base, undefined);
    assert.equal(thoth.builds[0]?.buildLog, undefined);
    assert.equal(thoth.builds[0]?.output?.credentials, undefined, 'no token without THOTH_PASS_TOKEN');
    assert.equal(thoth.builds[0]?.output?.verifyTls, true, 'not known to be the cluster registry: verified');

    const marked = cluster.get(run);
    assert.ok(marked?.annotations[ANNOTATIONS.submittedAt]);
    assert.equal(marked?.annotations[ANNOTATIONS.outputImage], `${REG}/demo/app@${APP_DIGEST}`);
    assert.deepEqual(JSON.parse(marked?.annotations[ANNOTATIONS.analysisIds] ?? ''), { output: 'package-extract-1' });
    assert.equal(marked?.annotations[ANNOTATIONS.claim], undefined);

    assert.equal(deps.ledger.isMarked(marked!), true);
    const replay = await analyzeObject({ payload: run, ref: run, action: 'update' }, deps);
    assert.deepEqual(replay.kind, 'ignored');
    assert.equal(thoth.builds.length, 1);
  });

  it('sends the token only when the image is the one its ImageStream says the cluster registry serves', async () => {
    for (const [stream, expected] of [
      [{ dockerImageRepository: `${REG}/demo/app` }, true],
      [{ dockerImageRepository: `${REG}/demo/other` }, false],
      [{ dockerImageRepository: `registry.example.com/demo/app` }, false],
      [undefined, false],
    ] as const) {
      const cluster = new MemoryCluster();
      const thoth = new MemoryThoth();
      if (stream !== undefined) {
        cluster.put({ apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: 'app', namespace: 'demo' }, status: stream });
      }
      const run = cluster.put(fixture('taskrun-v1.json'));
      await analyzeObject({ ref: run, action: 'update' }, pipeline(cluster, thoth, { 'tekton.dev/v1/TaskRun': tektonSource(options({ passToken: true })) }));
      const output = thoth.builds[0]?.output;
      assert.equal(output?.credentials?.password === TOKEN, expected, JSON.stringify(stream));
      assert.equal(output?.verifyTls, !expected, 'THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY applies to the cluster registry only');
    }
  });

  it('ignores runs that are not finished, failed, deleted, or with nothing to send, and refuses malformed ones', () => {
    const cluster = new MemoryCluster();
    const base = fixture('taskrun-v1.json');
    const source = tektonSource(options());
    const running = cluster.put(withStatus(base, { conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Running' }] }));
    const failed = cluster.put(withStatus(base, { conditions: [{ type: 'Succeeded', status: 'False', reason: 'Failed' }] }));
    const noImages = cluster.put(withStatus(base, { conditions: [{ type: 'Succeeded', status: 'True' }], results: [{ name: 'commit', value: 'abc' }] }));
    assert.equal(source.read(running).skipReason('update'), 'not-finished');
    assert.equal(source.read(failed).skipReason('update'), 'failed');
    assert.equal(source.read(noImages).skipReason('update'), 'no-images');
    assert.equal(source.read(cluster.put(base)).skipReason('delete'), 'deleted');
    assert.equal(tektonSource(options({ sendOutputImage: false })).read(cluster.put(base)).skipReason('update'), 'nothing-to-send');
    const malformed = cluster.put(withStatus(base, { conditions: 'yes' }));
    assert.throws(() => source.read(malformed).skipReason('update'), (error: unknown) => error instanceof BuildWatcherError && error.kind === 'invalid' && error.status === 422);
  });
});

describe('Tekton PipelineRun as a source kind', () => {
  const pipelineRun = fixture('pipelinerun-v1.json');
  const childWithApi = {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name: 'release-run-4mh9d-build', namespace: 'demo', labels: { 'tekton.dev/pipelineRun': 'release-run-4mh9d' } },
    status: {
      conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
      results: [
        { name: 'IMAGE_URL', value: 'quay.io/example/api:v2' },
        { name: 'IMAGE_DIGEST', value: API_DIGEST },
      ],
    },
  };

  it('leaves the images its TaskRuns report to them, and submits the rest, marking all in order', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    cluster.put(childWithApi);
    const run = cluster.put(pipelineRun);
    const outcome = await analyzeObject({ ref: ref(run), action: 'update' }, pipeline(cluster, thoth, { 'tekton.dev/v1/PipelineRun': tektonSource(options()) }));
    assert.equal(outcome.kind, 'submitted');
    const submitted = thoth.builds.map((request) => request.output?.image);
    assert.deepEqual(submitted, [
      'quay.io/example/worker@sha256:586789aa031fafc7d78a5393cdc772e0b55107ea54bb8bcf3f2cdac6c6da51ee',
      'quay.io/example/cli@sha256:9ac0cc7a11f8e8d2d0ba0ec9f6e0f8b2a3c1b5d4e6f708192a3b4c5d6e7f8091',
    ]);
    const marked = cluster.get(run);
    assert.equal(marked?.annotations[ANNOTATIONS.outputImage], submitted.join(','));
    assert.deepEqual(JSON.parse(marked?.annotations[ANNOTATIONS.analysisIds] ?? ''), [{ output: 'package-extract-1' }, { output: 'package-extract-2' }]);
  });

  it('submits every image when TaskRuns are not watched, or when the child cannot be read', async () => {
    for (const [withChild, taskRunsSubmit] of [[true, false], [false, true]] as const) {
      const cluster = new MemoryCluster();
      const thoth = new MemoryThoth();
      if (withChild) cluster.put(childWithApi);
      const run = cluster.put(pipelineRun);
      await analyzeObject({ ref: ref(run), action: 'update' }, pipeline(cluster, thoth, { 'tekton.dev/v1/PipelineRun': tektonSource(options({ taskRunsSubmit })) }));
      assert.equal(thoth.builds.length, 3, `child ${withChild}, taskRunsSubmit ${taskRunsSubmit}`);
    }
  });

  const onlyFromTasks = (name: string): Json => ({
    ...pipelineRun,
    metadata: { ...(pipelineRun['metadata'] as Json), name, uid: `uid-${name}` },
    status: { ...(pipelineRun['status'] as Json), results: [{ name: 'IMAGES', value: `quay.io/example/api@${API_DIGEST}` }] },
  });

  it('submits nothing for a PipelineRun whose every image came from its TaskRuns, and marks it done', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    cluster.put(childWithApi);
    const source = tektonSource(options());
    const run = cluster.put(onlyFromTasks('release-run-4mh9d'));
    const outcome = await analyzeObject({ ref: ref(run), action: 'update' }, pipeline(cluster, thoth, { 'tekton.dev/v1/PipelineRun': source }));
    assert.deepEqual(outcome, { kind: 'ignored', reason: 'images-submitted-elsewhere', object: ref(run) });
    assert.equal(thoth.builds.length, 0);
    const marked = cluster.get(run);
    assert.ok(marked?.annotations[ANNOTATIONS.submittedAt], 'marked done');
    assert.equal(marked?.annotations[ANNOTATIONS.outputImage], undefined, 'it submitted no image');
    assert.equal(marked?.annotations[ANNOTATIONS.analysisIds], undefined, 'and started no analysis');
    assert.equal(pipeline(cluster, thoth, {}).ledger.isMarked(marked!), true);
  });

  it('such PipelineRuns do not hold up the others: a sweep with a batch of 2 gets to them all, and the next picks none again', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    cluster.put(childWithApi);
    cluster.put(onlyFromTasks('elsewhere-1'));
    cluster.put(onlyFromTasks('elsewhere-2'));
    const own = cluster.put({ ...pipelineRun, metadata: { ...(pipelineRun['metadata'] as Json), name: 'own-images', uid: 'uid-own' } });
    const deps = pipeline(cluster, thoth, { 'tekton.dev/v1/PipelineRun': tektonSource(options()) });
    const sweep = () =>
      runSweep({ lister: cluster, pipeline: deps }, { collections: [{ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun' }], namespaces: ['demo'], batch: 2 });
    const first = await sweep();
    assert.equal(first.submitted, 1, JSON.stringify(first));
    assert.ok(cluster.get(own)?.annotations[ANNOTATIONS.submittedAt]);
    const second = await sweep();
    assert.equal(second.picked, 0, JSON.stringify(second));
    assert.equal(thoth.builds.length, 2, 'the two images no TaskRun reports');
  });
});

describe('Shipwright BuildRun as a source kind', () => {
  it('submits status.output.digest pinned onto the output image once', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const run = cluster.put(fixture('buildrun-v1beta1.json'));
    const deps = pipeline(cluster, thoth, { 'shipwright.io/v1beta1/BuildRun': shipwrightSource(options()) });
    assert.equal((await analyzeObject({ ref: ref(run), action: 'update' }, deps)).kind, 'submitted');
    assert.equal((await analyzeObject({ ref: ref(run), action: 'update' }, deps)).kind, 'ignored');
    assert.deepEqual(thoth.builds.map((request) => request.output?.image), [
      `${REG}/builds/sample-go@sha256:07626e3c7fdd28d5328a8d6df8d29cd3da760c7f5e2070b534f9b880ed093a53`,
    ]);
    assert.ok(cluster.get(run)?.annotations[ANNOTATIONS.submittedAt]);
  });
});
