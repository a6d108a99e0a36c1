/**
 * Without Thoth (THOTH_USER_API_HOST empty) against the real API server: the function still
 * re-reads each Build, resolves it by digest, marks it done and replies image.built, for live
 * events and for what a sweep finds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { startEventSink, type EventSink } from '../harness/event-sink.js';
import { waitFor } from '../harness/wait.js';
import { imageBuiltValidator, IMAGE_BUILT_TYPE } from '../manifests/image-built-schema.js';
import { pushTestImage, startRegistry, type PushedImage, type RunningRegistry } from '../registry/docker-registry.js';
import { postBinaryEvent, postCloudEvent, startFunction, type RunningFunction } from '../function/run-function.js';
import { annotationsOf, buildObject, completeStatus, createWithStatus, FUNCTION_RULES, prepareNamespace, readObject } from './cluster.js';

const NS = 'e2e-no-thoth';

describe('no Thoth configured, on the real API server', { timeout: 300_000 }, () => {
  const validate = imageBuiltValidator();
  let cp: ControlPlane;
  let registry: RunningRegistry;
  let image: PushedImage;
  let sink: EventSink;
  let fn: RunningFunction;

  before(async () => {
    [cp, registry] = await Promise.all([startControlPlane(), startRegistry()]);
    image = await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [256] });
    await prepareNamespace(cp, NS, { 'build-watcher': FUNCTION_RULES });
    sink = await startEventSink();
    fn = await startFunction({
      env: { THOTH_USER_API_HOST: '', KUBECONFIG: await cp.kubeconfigForServiceAccount(NS, 'build-watcher'), THOTH_WATCHED_NAMESPACE: NS, K_SINK: sink.url },
    });
  });

  after(async () => {
    await fn?.stop();
    await sink?.close();
    await registry?.stop();
    await cp?.stop();
  });

  it('a completed Build is resolved, marked done and announced as image.built', async () => {
    const reference = `${registry.host}/${NS}/app:latest`;
    const build = await createWithStatus(cp, buildObject(NS, 'app-1', reference), completeStatus(reference, image.digest));
    const response = await postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.update', object: build });
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get('ce-type'), IMAGE_BUILT_TYPE);
    const verdict = validate(await response.json());
    assert.ok(verdict.valid, verdict.errors);
    const marked = annotationsOf(await readObject(cp, buildObject(NS, 'app-1', reference)));
    assert.ok(marked[ANNOTATIONS.submittedAt], 'marked done');
    assert.equal(marked[ANNOTATIONS.outputImage], `${registry.host}/${NS}/app@${image.digest}`);
    assert.equal(marked[ANNOTATIONS.claim], undefined);
    // Marked: a replay does nothing.
    const replay = await postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.update', object: build });
    assert.equal(replay.status, 204);
  });

  it('a sweep marks what it finds and announces it to K_SINK', async () => {
    const reference = `${registry.host}/${NS}/app:latest`;
    await createWithStatus(cp, buildObject(NS, 'old-1', reference), completeStatus(reference, image.digest));
    const response = await postCloudEvent(fn.url, 'dev.build-watcher.sweep.requested', '{}', { source: '/e2e' });
    assert.equal(response.status, 200, await response.clone().text());
    const summary = (await response.json()) as { submitted: number };
    assert.equal(summary.submitted, 1);
    const announced = await sink.waitForEvent((event) => event.attributes['type'] === IMAGE_BUILT_TYPE && event.body.includes('"old-1"'), 30_000);
    const verdict = validate(JSON.parse(announced.body));
    assert.ok(verdict.valid, verdict.errors);
    await waitFor(async () => (annotationsOf(await readObject(cp, buildObject(NS, 'old-1', reference)))[ANNOTATIONS.submittedAt] ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the swept Build to be marked',
    });
  });
});
