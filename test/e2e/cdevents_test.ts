/**
 * CDEvents to a consumer built on the official Java SDK (test/cdevents-consumer: dev.cdevents:cdevents-sdk-java 0.3.1, which
 * validates against the spec's schemas it embeds), over HTTP as the Broker would deliver them. The function runs against the
 * real API server; every source kind (Build, ImageStream, TaskRun, PipelineRun, BuildRun) is delivered by the real
 * ApiServerSource adapter. The test fails on any event the consumer rejects and on any it never received.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { CDEVENT_TYPES, artifactEvents, ociPurl } from '../../functions/events/cdevents.js';
import { eventId } from '../../functions/events/event-id.js';
import { apiPath } from '../../functions/kube/object.js';
import { startCDEventsConsumer, type CDEventsConsumer, type ConsumerRecord } from '../harness/cdevents-consumer.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { waitFor } from '../harness/wait.js';
import { pushTestImage, startRegistry, type PushedImage, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { postBinaryEvent, postCloudEvent, startFunction, type RunningFunction } from '../function/run-function.js';
import { ADAPTER_RULES, FUNCTION_RULES, annotationsOf, buildObject, completeStatus, createWithStatus, prepareNamespace, readObject, setStatus } from './cluster.js';

const NS = 'e2e-cdevents';
const COMMIT = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const SUCCEEDED = [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', message: 'done', lastTransitionTime: '2026-11-20T10:03:41Z' }];
const KINDS = ['build', 'stream', 'taskrun', 'pipelinerun', 'buildrun', 'nothoth'] as const;

type Json = Record<string, unknown>;
interface CDEventBody { context: Json; subject: { id: string; type: string; content: Json }; customData: { object: Json; image: string; analysisIds?: Json } }

const cdevents = (records: readonly ConsumerRecord[]) => records.filter((record) => record.type?.startsWith('dev.cdevents.') === true);
const bodyOf = (record: ConsumerRecord) => JSON.parse(record.body ?? '{}') as CDEventBody;

/** The CloudEvent over HTTP, binary mode, exactly as functions/events/sink.ts sends one: to probe the consumer itself. */
async function post(url: string, headers: Record<string, string>, data: unknown): Promise<number> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', ...headers }, body: JSON.stringify(data) });
  await response.text();
  return response.status;
}

describe('CDEvents accepted by the official Java SDK, for every source kind', { timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  let consumer: CDEventsConsumer;
  let fn: RunningFunction;
  let noThoth: RunningFunction;
  let images: Record<(typeof KINDS)[number], PushedImage>;

  before(async () => {
    [cp, registry, consumer] = await Promise.all([startControlPlane(), startRegistry(), startCDEventsConsumer()]);
    const pushed: Partial<Record<(typeof KINDS)[number], PushedImage>> = {};
    for (const kind of KINDS) pushed[kind] = await pushTestImage(registry, { repository: `${NS}/${kind}-app`, tag: 'latest', layerSizes: [256] });
    images = pushed as Record<(typeof KINDS)[number], PushedImage>;
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
    await prepareNamespace(cp, NS, { 'build-watcher': FUNCTION_RULES, adapter: [...ADAPTER_RULES,
      { apiGroups: ['build.openshift.io'], resources: ['builds'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['image.openshift.io'], resources: ['imagestreams'], verbs: ['get', 'list', 'watch'] }] });
    const kubeconfig = await cp.kubeconfigForServiceAccount(NS, 'build-watcher');
    const common = { KUBECONFIG: kubeconfig, THOTH_WATCHED_NAMESPACE: NS, K_SINK: consumer.url, THOTH_BUILD_WATCHER_WORKERS: '2' };
    [fn, noThoth] = await Promise.all([
      startFunction({ env: { ...common, THOTH_USER_API_HOST: thoth.url, THOTH_ANALYZE_EXISTING: '1', BUILD_WATCHER_SOURCE_KINDS: 'Build,TaskRun,PipelineRun,BuildRun' } }),
      startFunction({ env: { ...common, THOTH_USER_API_HOST: '' } }),
    ]);
  });

  after(async () => {
    await Promise.all([fn?.stop(), noThoth?.stop()]);
    await consumer?.stop();
    await thoth?.close();
    await registry?.stop();
    await cp?.stop();
  });

  it('the consumer rejects a broken CDEvent, and accepts what the function would send', async () => {
    const image = { registry: registry.host, repository: `${NS}/build-app`, digest: images.build.digest };
    const object = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name: 'probe', uid: 'u-1' };
    const [packaged] = artifactEvents({ object, image, revision: COMMIT }, ['packaged'], new Date());
    assert.ok(packaged !== undefined);
    const headers = { 'ce-type': packaged.type, 'ce-source': packaged.source, 'ce-id': packaged.id, 'ce-subject': packaged.subject ?? '' };
    const data = packaged.data as CDEventBody;
    assert.equal(await post(consumer.url, headers, data), 202, 'a valid one is accepted');
    // The SDK's schemas: packaged needs the change; a v0.5.1 type is not one it validates; content has no other field.
    assert.equal(await post(consumer.url, headers, { ...data, subject: { ...data.subject, content: {} } }), 400);
    const newer = 'dev.cdevents.artifact.packaged.0.3.0';
    assert.equal(await post(consumer.url, { ...headers, 'ce-type': newer }, { ...data, context: { ...data.context, type: newer } }), 400);
    assert.equal(await post(consumer.url, headers, { ...data, subject: { ...data.subject, content: { ...data.subject.content, sbom: { uri: 'https://x/sbom' } } } }), 400);
    // The CloudEvents binding: ce-subject is the subject id, ce-id the context's id.
    assert.equal(await post(consumer.url, { ...headers, 'ce-subject': '/apis/build.openshift.io/v1/namespaces/x/builds/probe' }, data), 400);
    assert.equal(await post(consumer.url, { ...headers, 'ce-id': 'another' }, data), 400);
    const records = cdevents(consumer.records());
    assert.deepEqual(records.map((record) => record.verdict), ['accepted', 'rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
    assert.match(records[1]?.why ?? '', /CDEvents SDK rejected/);
    assert.match(records[2]?.why ?? '', /CDEvents SDK rejected/);
  });

  it('every image of every source kind reaches the consumer as artifact.published (and packaged when its commit is known), all accepted', async () => {
    const probes = cdevents(consumer.records()).length;
    const adapter = await cp.startAdapter({
      sink: `${fn.url}/`, namespaces: [NS], mode: 'Resource', kubeconfigPath: await cp.kubeconfigForServiceAccount(NS, 'adapter'), name: 'all-kinds', namespace: NS,
      resources: [{ apiVersion: 'build.openshift.io/v1', kind: 'Build' }, { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream' }, { apiVersion: 'tekton.dev/v1', kind: 'TaskRun' },
        { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun' }, { apiVersion: 'shipwright.io/v1beta1', kind: 'BuildRun' }],
    });
    try {
      const ref = (kind: (typeof KINDS)[number]) => `${registry.host}/${NS}/${kind}-app`;
      const build = { ...buildObject(NS, 'app-1', `${ref('build')}:latest`) };
      build['spec'] = { ...(build['spec'] as Json), revision: { type: 'Git', git: { commit: COMMIT, message: 'Fix it' } } };
      cp.setBuildLog(NS, 'app-1', 'STEP 1/1: FROM scratch\nPushed\n');
      const stream = { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: 'stream-app', namespace: NS } };
      const taskRun = { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name: 'task-1', namespace: NS }, spec: { taskRef: { name: 'buildah' } } };
      const pipelineRun = { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name: 'pipeline-1', namespace: NS }, spec: { pipelineRef: { name: 'build' } } };
      const buildRun = { apiVersion: 'shipwright.io/v1beta1', kind: 'BuildRun', metadata: { name: 'shipwright-1', namespace: NS },
        spec: { build: { name: 'shipwright-app' }, output: { image: ref('buildrun') } } };
      await createWithStatus(cp, build, completeStatus(`${ref('build')}:latest`, images.build.digest));
      await createWithStatus(cp, stream, { dockerImageRepository: ref('stream'), tags: [{ tag: 'latest',
        items: [{ created: '2026-11-01T00:00:00Z', dockerImageReference: `${ref('stream')}@${images.stream.digest}`, image: images.stream.digest, generation: 1 }] }] });
      await createWithStatus(cp, taskRun);
      await setStatus(cp, taskRun, { podName: 'task-1-pod', conditions: SUCCEEDED, results: [{ name: 'IMAGE_URL', type: 'string', value: `${ref('taskrun')}:latest` },
        { name: 'IMAGE_DIGEST', type: 'string', value: images.taskrun.digest }, { name: 'CHAINS-GIT_COMMIT', type: 'string', value: COMMIT }] });
      await createWithStatus(cp, pipelineRun);
      await setStatus(cp, pipelineRun, { conditions: SUCCEEDED, results: [{ name: 'IMAGE_URL', value: `${ref('pipelinerun')}:latest` }, { name: 'IMAGE_DIGEST', value: images.pipelinerun.digest }] });
      await createWithStatus(cp, buildRun);
      await setStatus(cp, buildRun, { conditions: SUCCEEDED, output: { digest: images.buildrun.digest }, source: { git: { commitSha: COMMIT, branchName: 'main' } } });

      // What each object must yield: published always, packaged where the commit is known (not an ImageStream, not this PipelineRun).
      const objects = [
        { manifest: build, kind: 'build', packaged: true }, { manifest: stream, kind: 'stream', packaged: false }, { manifest: taskRun, kind: 'taskrun', packaged: true },
        { manifest: pipelineRun, kind: 'pipelinerun', packaged: false }, { manifest: buildRun, kind: 'buildrun', packaged: true },
      ] as const;
      const expected: { type: string; id: string; purl: string; image: string; object: Json; revision?: string }[] = [];
      for (const { manifest, kind, packaged } of objects) {
        const live = await readObject(cp, manifest);
        const metadata = live['metadata'] as { uid: string; name: string };
        const object = { apiVersion: manifest.apiVersion, kind: manifest.kind, namespace: NS, name: metadata.name, uid: metadata.uid };
        const purl = ociPurl({ registry: registry.host, repository: `${NS}/${kind}-app`, digest: images[kind].digest });
        const image = `${registry.host}/${NS}/${kind}-app@${images[kind].digest}`;
        for (const [type, wanted] of [[CDEVENT_TYPES.published, true], [CDEVENT_TYPES.packaged, packaged]] as const) {
          if (wanted) expected.push({ type, purl, image, object, id: eventId({ type, subject: apiPath(object), uid: object.uid, facts: [images[kind].digest] }), ...(type === CDEVENT_TYPES.packaged ? { revision: COMMIT } : {}) });
        }
      }
      const missing = (records: readonly ConsumerRecord[]) => expected.filter((e) => !cdevents(records).some((r) => r.id === e.id));
      const all = await waitFor(async () => { const records = consumer.records(); return missing(records).length === 0 ? records : undefined; }, {
        what: 'every expected CDEvent at the consumer', timeoutMs: 120_000,
        onTimeout: () => `missing: ${missing(consumer.records()).map((e) => `${e.type} ${String(e.object['name'])}`).join(', ')}\n${fn.lines.slice(-30).join('\n')}`,
      });
      const received = cdevents(all).slice(probes);
      assert.deepEqual(received.filter((record) => record.verdict !== 'accepted'), [], 'the SDK accepts every CDEvent the function sent');
      for (const e of expected) {
        const record = received.find((r) => r.id === e.id);
        assert.ok(record !== undefined, `${e.type} for ${String(e.object['name'])}`);
        assert.equal(record.type, e.type);
        assert.equal(record.source, '/build-watcher');
        assert.equal(record.subject, e.purl);
        const body = bodyOf(record);
        assert.equal(body.context['id'], e.id);
        assert.equal(body.context['version'], '0.3.0');
        assert.deepEqual(body.subject, { id: e.purl, type: 'artifact', content: e.revision === undefined ? {} : { change: { id: e.revision } } });
        assert.deepEqual(body.customData.object, e.object);
        assert.equal(body.customData.image, e.image, 'the image by digest, as a scanner pulls it');
        assert.equal(typeof body.customData.analysisIds?.['output'], 'string', `Thoth's analysis id for ${String(e.object['name'])}`);
      }
      assert.equal(new Set(received.map((r) => r.id)).size, expected.length, 'nothing beyond the expected events');
      assert.match(expected[0]?.purl ?? '', new RegExp(`^pkg:oci/build-app@sha256%3A[0-9a-f]{64}\\?repository_url=${registry.host}/${NS}/build-app$`));
      const marks = annotationsOf(await readObject(cp, build));
      assert.deepEqual(bodyOf(received.find((r) => r.id === expected[0]?.id) ?? { verdict: 'other', status: 0 }).customData.analysisIds, JSON.parse(marks[ANNOTATIONS.analysisIds] ?? '{}'));
    } finally {
      await adapter.stop();
    }
  });

  it('without Thoth, a Build is answered image.built and its CDEvents still go to K_SINK', async () => {
    const reference = `${registry.host}/${NS}/nothoth-app:latest`;
    const build = buildObject(NS, 'nothoth-1', reference);
    build['spec'] = { ...(build['spec'] as Json), revision: { type: 'Git', git: { commit: COMMIT } } };
    const live = await createWithStatus(cp, build, completeStatus(reference, images.nothoth.digest));
    const response = await postBinaryEvent(noThoth.url, { type: 'dev.knative.apiserver.resource.update', object: live });
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.image.built');
    const uid = (live['metadata'] as { uid: string }).uid;
    const object = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name: 'nothoth-1', uid };
    const ids = [CDEVENT_TYPES.published, CDEVENT_TYPES.packaged].map((type) => eventId({ type, subject: apiPath(object), uid, facts: [images.nothoth.digest] }));
    const records = await waitFor(async () => { const found = ids.map((id) => cdevents(consumer.records()).find((r) => r.id === id)); return found.every((r) => r !== undefined) ? found : undefined; },
      { what: 'both CDEvents of the Build without Thoth', timeoutMs: 60_000 });
    assert.deepEqual(records.map((r) => r?.verdict), ['accepted', 'accepted']);
    const image = `${registry.host}/${NS}/nothoth-app@${images.nothoth.digest}`;
    assert.deepEqual(records.map((r) => r === undefined ? undefined : bodyOf(r).customData), [{ object, image }, { object, image }], 'no analysis ids without Thoth');
  });

  it('a sweep announces what it finds with its CDEvents too', async () => {
    const reference = `${registry.host}/${NS}/nothoth-app:latest`;
    const live = await createWithStatus(cp, buildObject(NS, 'swept-1', reference), completeStatus(reference, images.nothoth.digest));
    const response = await postCloudEvent(noThoth.url, 'dev.build-watcher.sweep.requested', '{}', { source: '/e2e' });
    assert.equal(response.status, 200, await response.clone().text());
    const uid = (live['metadata'] as { uid: string }).uid;
    const object = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name: 'swept-1', uid };
    const id = eventId({ type: CDEVENT_TYPES.published, subject: apiPath(object), uid, facts: [images.nothoth.digest] });
    const record = await waitFor(async () => cdevents(consumer.records()).find((r) => r.id === id), { what: 'the swept Build\'s artifact.published', timeoutMs: 60_000 });
    assert.equal(record.verdict, 'accepted');
  });
});
