/**
 * dev.build-watcher.image.built through the real runtime: the reply when no Thoth is configured,
 * and sent to K_SINK (a Knative SinkBinding's address) beside Thoth's reply when one is. Every
 * event's data is validated against the shipped schema (knative/schemas/). No cluster here
 * (BUILD_WATCHER_TRUST_EVENT_PAYLOAD=1); marking without Thoth on the real API server is in
 * test/e2e/no-thoth_test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventId } from '../../functions/events/event-id.js';
import { startEventSink, type EventSink } from '../harness/event-sink.js';
import { waitFor } from '../harness/wait.js';
import { imageBuiltValidator, IMAGE_BUILT_TYPE } from '../manifests/image-built-schema.js';
import { pushTestImage, startRegistry, type PushedImage, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { postBinaryEvent, startFunction, type RunningFunction } from './run-function.js';

function completeBuild(name: string, output: string, digest: string): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace: 'myproject', uid: `uid-${name}`, resourceVersion: '7' },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: output } } },
    status: { phase: 'Complete', outputDockerImageReference: output, output: { to: { imageDigest: digest } } },
  };
}

describe('image.built, with and without Thoth', () => {
  const validate = imageBuiltValidator();
  let registry: RunningRegistry;
  let image: PushedImage;
  let thoth: ThothStub;
  let sink: EventSink;
  let withThoth: RunningFunction;
  let withoutThoth: RunningFunction;

  before(async () => {
    registry = await startRegistry();
    image = await pushTestImage(registry, { repository: 'myproject/app', tag: 'latest', layerSizes: [256] });
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
    sink = await startEventSink();
    const common = { BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1', THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1' };
    withThoth = await startFunction({ env: { ...common, THOTH_USER_API_HOST: thoth.url, K_SINK: sink.url } });
    withoutThoth = await startFunction({ env: { ...common, THOTH_USER_API_HOST: '' } });
  });

  after(async () => {
    await withThoth?.stop();
    await withoutThoth?.stop();
    await sink?.close();
    await thoth?.close();
    await registry?.stop();
  });

  it('without Thoth: the reply is image.built, digest-pinned, valid against the schema, and nothing reaches Thoth', async () => {
    const before = thoth.attempts.length;
    const response = await postBinaryEvent(withoutThoth.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: completeBuild('alone-1', `${registry.host}/myproject/app:latest`, image.digest),
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get('ce-type'), IMAGE_BUILT_TYPE);
    assert.equal(response.headers.get('ce-subject'), '/apis/build.openshift.io/v1/namespaces/myproject/builds/alone-1');
    const data: unknown = await response.json();
    const verdict = validate(data);
    assert.ok(verdict.valid, verdict.errors);
    assert.deepEqual(data, {
      object: { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'myproject', name: 'alone-1', uid: 'uid-alone-1' },
      images: [{ output: `${registry.host}/myproject/app@${image.digest}` }],
      buildLog: { path: '/apis/build.openshift.io/v1/namespaces/myproject/builds/alone-1/log' },
    });
    assert.equal(thoth.attempts.length, before);
  });

  it('with Thoth: the reply stays analysis.submitted, and image.built goes to K_SINK with the same images', async () => {
    const response = await postBinaryEvent(withThoth.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: completeBuild('both-1', `${registry.host}/myproject/app:latest`, image.digest),
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.analysis.submitted');
    const announced = await sink.waitForEvent((event) => event.attributes['type'] === IMAGE_BUILT_TYPE && event.body.includes('both-1'), 30_000);
    assert.equal(announced.attributes['source'], '/build-watcher');
    assert.equal(announced.attributes['kind'], undefined, 'no kind extension: no Build Trigger can deliver it back');
    const data: unknown = JSON.parse(announced.body);
    const verdict = validate(data);
    assert.ok(verdict.valid, verdict.errors);
    assert.deepEqual((data as { images: unknown }).images, [{ output: `${registry.host}/myproject/app@${image.digest}` }]);
  });

  it('a redelivery gives the same ids: the reply without Thoth, and with Thoth both analysis.submitted (answered from cache) and the image.built at K_SINK', async () => {
    const deliver = async (fn: RunningFunction, name: string) => {
      const response = await postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.update', object: completeBuild(name, `${registry.host}/myproject/app:latest`, image.digest) });
      assert.equal(response.status, 200, await response.clone().text());
      return { id: response.headers.get('ce-id'), body: await response.text() };
    };
    // Without patch rights' marks (the payload trusted), every delivery is worked on again: what a redelivery does in a window.
    const alone = [await deliver(withoutThoth, 'again-1'), await deliver(withoutThoth, 'again-1')];
    assert.match(alone[0]?.id ?? '', /^[0-9a-f]{32}$/);
    assert.equal(alone[1]?.id, alone[0]?.id);
    const subject = '/apis/build.openshift.io/v1/namespaces/myproject/builds/again-1';
    assert.equal(alone[0]?.id, eventId({ type: IMAGE_BUILT_TYPE, subject, uid: 'uid-again-1', facts: [[[image.digest, '']]] }), 'the README recipe');

    const both = [await deliver(withThoth, 'again-2'), await deliver(withThoth, 'again-2')];
    assert.equal(both[1]?.id, both[0]?.id);
    assert.match(both[1]?.body ?? '', /"cached":true/);
    const announced = await waitFor(async () => {
      const events = sink.received.filter((event) => event.attributes['type'] === IMAGE_BUILT_TYPE && event.body.includes('again-2'));
      return events.length === 2 ? events : undefined;
    }, { what: 'two image.built for again-2', timeoutMs: 30_000 });
    assert.equal(announced[1]?.attributes['id'], announced[0]?.attributes['id']);
    assert.notEqual(announced[0]?.attributes['id'], both[0]?.id, 'another type, another id');
  });

  it('a Build reported without a digest announces nothing by tag: image.built carries pinned references only', async () => {
    const unpinned = completeBuild('tag-only-1', `${registry.host}/myproject/app:latest`, image.digest);
    delete (unpinned['status'] as Record<string, unknown>)['output'];
    const response = await postBinaryEvent(withoutThoth.url, { type: 'dev.knative.apiserver.resource.update', object: unpinned });
    assert.equal(response.status, 204, await response.clone().text());
  });
});
