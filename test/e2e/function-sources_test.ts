/**
 * The function through the real runtime against the real API server (kube-apiserver with the
 * stand-in and upstream CRDs), real registries and the Thoth stand-in:
 * - the catch-up sweep finds a Build and an ImageStream that existed before anything watched,
 *   submits each once, and a second sweep submits nothing;
 * - an ImageStream event replayed after the sweep submits nothing;
 * - a Tekton TaskRun and a Shipwright BuildRun, delivered by the real ApiServerSource adapter,
 *   are submitted once each, and the updates our own marks cause are ignored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { waitFor } from '../harness/wait.js';
import { pushTestImage, startRegistry, type PushedImage, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { metricTotal as metric, postBinaryEvent, postCloudEvent, startFunction, type RunningFunction } from '../function/run-function.js';
import { ADAPTER_RULES, FUNCTION_RULES, annotationsOf, buildObject, completeStatus, createWithStatus, prepareNamespace, readObject, setStatus } from './cluster.js';

const NS = 'e2e-sources';

const postSweep = (url: string) => postCloudEvent(url, 'dev.build-watcher.sweep.requested', '{}', { source: '/e2e' });

describe('the function against the real API server', { timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  let fn: RunningFunction;
  let images: Record<'build' | 'stream' | 'taskrun' | 'buildrun', PushedImage>;

  before(async () => {
    [cp, registry] = await Promise.all([startControlPlane(), startRegistry()]);
    images = {
      build: await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [512] }),
      stream: await pushTestImage(registry, { repository: `${NS}/imported`, tag: '1.0', layerSizes: [512] }),
      taskrun: await pushTestImage(registry, { repository: `${NS}/tekton-app`, tag: 'latest', layerSizes: [512] }),
      buildrun: await pushTestImage(registry, { repository: `${NS}/shipwright-app`, tag: 'latest', layerSizes: [512] }),
    };
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
    await prepareNamespace(cp, NS, { 'build-watcher': FUNCTION_RULES, adapter: ADAPTER_RULES });

    // Objects that exist before the function or any adapter runs: only a sweep can find them.
    const image = `${registry.host}/${NS}/app:latest`;
    await createWithStatus(cp, buildObject(NS, 'old-build', image), completeStatus(image, images.build.digest));
    cp.setBuildLog(NS, 'old-build', 'STEP 1/1: FROM scratch\nPushed\n');
    await createWithStatus(cp, buildObject(NS, 'running-build', image), { phase: 'Running' });
    await createWithStatus(cp, { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: 'imported', namespace: NS } }, {
      dockerImageRepository: `${registry.host}/${NS}/imported`,
      tags: [
        {
          tag: '1.0',
          items: [{ created: '2026-11-01T00:00:00Z', dockerImageReference: `${registry.host}/${NS}/imported@${images.stream.digest}`, image: images.stream.digest, generation: 1 }],
        },
      ],
    });

    fn = await startFunction({
      env: {
        THOTH_USER_API_HOST: thoth.url,
        KUBECONFIG: await cp.kubeconfigForServiceAccount(NS, 'build-watcher'),
        THOTH_WATCHED_NAMESPACE: NS,
        THOTH_ANALYZE_EXISTING: '1',
        BUILD_WATCHER_SOURCE_KINDS: 'Build,TaskRun,BuildRun',
        THOTH_BUILD_WATCHER_WORKERS: '2',
      },
    });
  });

  after(async () => {
    await fn?.stop();
    await thoth?.close();
    await registry?.stop();
    await cp?.stop();
  });

  it('a sweep submits the old Complete Build and the ImageStream tag once each', async () => {
    const response = await postSweep(fn.url);
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.sweep.completed');
    const summary = (await response.json()) as { submitted: number; failed: number; complete: boolean; kinds: Record<string, { listed: number }> };
    assert.equal(summary.submitted, 2, JSON.stringify(summary));
    assert.equal(summary.failed, 0);
    assert.equal(summary.complete, true);
    assert.equal(summary.kinds['Build']?.listed, 2);

    const submissions = thoth.submissions;
    const builds = submissions.filter((s) => s.endpoint === 'build-analysis');
    const analyzed = submissions.filter((s) => s.endpoint === 'analyze');
    assert.deepEqual(builds.map((s) => s.body?.output_image), [`${registry.host}/${NS}/app@${images.build.digest}`]);
    assert.match(String(builds[0]?.body?.build_log?.log), /Pushed/);
    assert.deepEqual(analyzed.map((s) => s.query['image']), [`${registry.host}/${NS}/imported@${images.stream.digest}`]);

    const build = await readObject(cp, buildObject(NS, 'old-build', ''));
    assert.ok(annotationsOf(build)[ANNOTATIONS.submittedAt]);
    assert.equal(annotationsOf(await readObject(cp, buildObject(NS, 'running-build', '')))[ANNOTATIONS.submittedAt], undefined);
    const stream = await readObject(cp, { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: 'imported', namespace: NS } });
    assert.deepEqual(JSON.parse(annotationsOf(stream)[ANNOTATIONS.submittedImages] ?? '{}'), { '1.0': [images.stream.digest] });
    assert.equal(await metric(fn.url, /^build_watcher_sweep_objects_total\{.*outcome="submitted"/), 2);
  });

  it('a second sweep submits nothing', async () => {
    const response = await postSweep(fn.url);
    assert.equal(response.status, 200);
    const summary = (await response.json()) as { submitted: number; picked: number };
    assert.equal(summary.submitted, 0);
    assert.equal(summary.picked, 0);
    assert.equal(thoth.submissions.length, 2);
  });

  it('an ImageStream event replayed after the sweep submits nothing', async () => {
    const stream = await readObject(cp, { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: 'imported', namespace: NS } });
    for (const type of ['dev.knative.apiserver.resource.add', 'dev.knative.apiserver.resource.update']) {
      const response = await postBinaryEvent(fn.url, { type, object: stream });
      assert.equal(response.status, 204, `${type}: ${await response.text()}`);
    }
    assert.equal(thoth.submissions.length, 2);
  });

  it('a TaskRun and a BuildRun delivered by the real adapter are submitted once each', async () => {
    const adapter = await cp.startAdapter({
      sink: `${fn.url}/`,
      namespaces: [NS],
      resources: [
        { apiVersion: 'tekton.dev/v1', kind: 'TaskRun' },
        { apiVersion: 'shipwright.io/v1beta1', kind: 'BuildRun' },
      ],
      mode: 'Resource',
      kubeconfigPath: await cp.kubeconfigForServiceAccount(NS, 'adapter'),
      name: 'runs',
      namespace: NS,
    });
    try {
      const taskRun = {
        apiVersion: 'tekton.dev/v1',
        kind: 'TaskRun',
        metadata: { name: 'build-app', namespace: NS },
        spec: { taskRef: { name: 'buildah' }, params: [{ name: 'IMAGE', value: `${registry.host}/${NS}/tekton-app:latest` }] },
      };
      await createWithStatus(cp, taskRun, { podName: 'build-app-pod', conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Running', message: 'running' }] });
      await setStatus(cp, taskRun, {
        podName: 'build-app-pod',
        conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', message: 'All Steps have completed executing', lastTransitionTime: '2026-11-20T10:03:41Z' }],
        results: [
          { name: 'IMAGE_DIGEST', type: 'string', value: `${images.taskrun.digest}\n` },
          { name: 'IMAGE_URL', type: 'string', value: `${registry.host}/${NS}/tekton-app:latest\n` },
        ],
      });
      const buildRun = {
        apiVersion: 'shipwright.io/v1beta1',
        kind: 'BuildRun',
        metadata: { name: 'shipwright-app-1', namespace: NS },
        spec: { build: { name: 'shipwright-app' }, output: { image: `${registry.host}/${NS}/shipwright-app` } },
      };
      await createWithStatus(cp, buildRun);
      await setStatus(cp, buildRun, {
        conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', message: 'All Steps have completed executing', lastTransitionTime: '2026-11-21T08:15:30Z' }],
        output: { digest: images.buildrun.digest, size: 1024 },
      });

      const expected = [`${registry.host}/${NS}/tekton-app@${images.taskrun.digest}`, `${registry.host}/${NS}/shipwright-app@${images.buildrun.digest}`];
      await waitFor(
        async () => {
          const marked = await Promise.all([readObject(cp, taskRun), readObject(cp, buildRun)]);
          return marked.every((object) => annotationsOf(object)[ANNOTATIONS.submittedAt] !== undefined) ? true : undefined;
        },
        { what: 'the TaskRun and BuildRun to be marked', timeoutMs: 60_000, onTimeout: () => fn.lines.slice(-20).join('\n') },
      );
      // The marks are updates too: once the adapter has delivered them (and the function ignored
      // them as already submitted), nothing can submit these runs again.
      await waitFor(async () => ((await metric(fn.url, /^build_watcher_events_received_total\{.*decision="ignored:already-submitted"/)) >= 2 ? true : undefined), {
        what: 'the update events caused by our own marks',
        timeoutMs: 60_000,
      });
      const runs = thoth.submissions.slice(2);
      assert.deepEqual(runs.map((s) => s.endpoint), ['build-analysis', 'build-analysis']);
      assert.deepEqual(runs.map((s) => s.body?.output_image).sort(), [...expected].sort());
      assert.ok(runs.every((s) => s.body?.base_image === undefined && s.body?.build_log === undefined), 'runs send their output image only');
      assert.equal(annotationsOf(await readObject(cp, taskRun))[ANNOTATIONS.outputImage], expected[0]);

      const sweep = (await (await postSweep(fn.url)).json()) as { submitted: number; kinds: Record<string, { listed: number }> };
      assert.equal(sweep.submitted, 0);
      assert.equal(sweep.kinds['TaskRun']?.listed, 1);
      assert.equal(sweep.kinds['BuildRun']?.listed, 1);
      assert.equal(thoth.submissions.length, 4);
    } finally {
      await adapter.stop();
    }
  });
});
