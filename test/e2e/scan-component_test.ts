/**
 * The scan component (knative/optional/scan/) on the default install, real Knative Eventing and
 * Tekton Triggers' real controller and EventListener sink (test/harness/tekton-triggers.ts). The
 * function (no Thoth, K_SINK the Broker) sends one CDEvent artifact.published per built image; the
 * Broker hands each through the component's Trigger to the EventListener, and the sink creates one
 * TaskRun per event that names that image by digest: a completed Build ends in one TaskRun, a
 * TaskRun that built two images (the tekton add-on's source) in two. A redelivery of the same
 * event creates none: the TaskRun's name is derived from the event's id, so the sink's second
 * create is refused.
 *
 * No kubelet runs here, so a TaskRun's pod never runs (Tekton Pipelines' controller does not run
 * either): the test verifies the TaskRun objects the sink created.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CDEVENT_TYPES } from '../../functions/events/cdevents.js';
import { postViaProxy } from '../harness/cluster-proxy.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { startEventSink, type EventSink, type ReceivedEvent } from '../harness/event-sink.js';
import { startEventing, type Eventing } from '../harness/eventing.js';
import { startTektonTriggers, type TektonTriggers } from '../harness/tekton-triggers.js';
import { waitFor } from '../harness/wait.js';
import type { ManifestObject } from '../harness/apply.js';
import { layoutCrds } from '../manifests/kustomize.js';
import { applyStep } from '../manifests/manifests.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { relayToBroker } from './broker-relay.js';
import { clusterRegistryStream, completeStatus, createWithStatus, setStatus, streamTagBuild } from './cluster.js';
import { BROKER_URL, deployDefaultInstall, NAMESPACE, type DefaultInstall } from './default-install.js';

const NS = NAMESPACE;
const PUBLISHED = CDEVENT_TYPES.published;
const LISTENER = 'build-watcher-scan';
const LISTENER_HOST = `el-${LISTENER}.${NS}.svc.cluster.local`;
const SUCCEEDED = [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', message: 'done', lastTransitionTime: '2026-11-20T10:03:41Z' }];

interface TaskRun {
  metadata: { name: string };
  spec: { taskRef?: { name?: string }; params?: { name: string; value: string }[] };
}

const paramsOf = (run: TaskRun): Record<string, string> => Object.fromEntries((run.spec.params ?? []).map((p) => [p.name, p.value]));
/** The object a CDEvent is about, from its customData. */
const aboutObject = (event: ReceivedEvent, name: string): boolean => event.attributes['type'] === PUBLISHED && event.body.includes(`"name":"${name}"`);

describe('the scan component on real Tekton Triggers (Broker path)', { timeout: 900_000 }, () => {
  let cp: ControlPlane;
  let eventing: Eventing;
  let registry: RunningRegistry;
  let relay: Awaited<ReturnType<typeof relayToBroker>>;
  let install: DefaultInstall;
  let tektonSource: Awaited<ReturnType<Eventing['startSourceAdapter']>>;
  let triggers: TektonTriggers;
  let announcements: EventSink;
  let digest: string;

  /** The TaskRuns the scan component created (the tekton add-on's source TaskRuns live in the same namespace). */
  const scanRuns = async (): Promise<TaskRun[]> =>
    ((await cp.admin.json({ path: `/apis/tekton.dev/v1/namespaces/${NS}/taskruns?labelSelector=${encodeURIComponent('app.kubernetes.io/component=scan')}` })) as { items: TaskRun[] }).items;
  const listenerHops = (id: string) => eventing.hops.filter((hop) => hop.host === LISTENER_HOST && hop.attributes['id'] === id);
  const refusals = (name: string): number => triggers.logTail('listener', 10_000).split('\n').filter((line) => line.includes(name) && line.includes('already exists')).length;
  const scansOf = async (object: string, count: number): Promise<TaskRun[]> => waitFor(async () => {
    const runs = (await scanRuns()).filter((run) => paramsOf(run)['object'] === object);
    return runs.length >= count ? runs : undefined;
  }, { what: `the EventListener to create ${count} TaskRun(s) for ${object}`, timeoutMs: 120_000, onTimeout: () => triggers.logTail('listener', 20) });

  before(async () => {
    registry = await startRegistry();
    cp = await startControlPlane();
    digest = (await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [1024] })).digest;
    eventing = await startEventing(cp);
    // No Thoth. The CDEvents go to K_SINK, the Broker (as the sweep component's SinkBinding sets it); TaskRuns are a source kind too.
    relay = await relayToBroker(eventing);
    install = await deployDefaultInstall(cp, eventing, '', { functionEnv: { K_SINK: relay.url, BUILD_WATCHER_SOURCE_KINDS: 'Build,TaskRun' } });
    await clusterRegistryStream(cp, registry.host, NS, 'app');
    // The tekton add-on: its ApiServerSource, Triggers and RBAC, as shipped, and its source's adapter.
    const tekton = applyStep({ path: 'knative/optional/tekton/' }).map((m) => m.object as unknown as ManifestObject);
    await cp.applyManifests(tekton);
    for (const trigger of tekton.filter((o) => o.kind === 'Trigger')) await eventing.waitReady('eventing.knative.dev/v1', 'Trigger', NS, trigger.metadata.name);
    tektonSource = await eventing.startSourceAdapter(NS, 'build-watcher-tekton');
    // Tekton's Task CRD and Triggers' CRDs, beside the TaskRun CRD the control plane has.
    await cp.applyManifests(await layoutCrds());
    triggers = await startTektonTriggers(cp, eventing);
    // `oc apply -f knative/optional/scan/`, as the README installs it.
    await cp.applyManifests(applyStep({ path: 'knative/optional/scan/' }).map((m) => m.object as unknown as ManifestObject));
    await triggers.startListener(NS, LISTENER);
    await eventing.waitReady('eventing.knative.dev/v1', 'Trigger', NS, LISTENER);
    // An observer of the CDEvents, to know their ids and redeliver one exactly: a Trigger of this test's own.
    announcements = await startEventSink();
    await eventing.serveService(NS, 'announcement-observer', Number(new URL(announcements.url).port));
    await cp.applyManifests([
      {
        apiVersion: 'eventing.knative.dev/v1',
        kind: 'Trigger',
        metadata: { name: 'announcement-observer', namespace: NS },
        spec: { broker: 'build-watcher', filter: { attributes: { type: PUBLISHED } }, subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'announcement-observer' } } },
      },
    ]);
    await eventing.waitReady('eventing.knative.dev/v1', 'Trigger', NS, 'announcement-observer');
  });

  after(async () => {
    await triggers?.stop();
    await tektonSource?.stop();
    await install?.stop();
    await relay?.close();
    await announcements?.close();
    await eventing?.stop();
    await cp?.stop();
    await registry?.stop();
  });

  it('a completed Build ends in exactly one TaskRun, named by the event id, that scans the image by digest; a redelivery creates none', async () => {
    await createWithStatus(cp, streamTagBuild(NS, 'app-1'), completeStatus(`${registry.host}/${NS}/app:latest`, digest));
    const announced = await announcements.waitForEvent((e) => aboutObject(e, 'app-1'), 120_000);
    const id = announced.attributes['id'] ?? '';
    assert.match(id, /^[0-9a-f]{32}$/, 'the stable event id');
    const name = `${LISTENER}-${id}`;
    const runs = await scansOf(`Build/${NS}/app-1`, 1);
    assert.deepEqual((await scanRuns()).map((r) => r.metadata.name), [name]);
    const run = runs[0]!;
    assert.equal(run.spec.taskRef?.name, 'build-watcher-scan');
    assert.deepEqual(paramsOf(run), { image: `${registry.host}/${NS}/app@${digest}`, severity: 'HIGH,CRITICAL', object: `Build/${NS}/app-1` });
    // A retried first delivery would be a redelivery too; count from here.
    const delivered = listenerHops(id).length;
    assert.ok(delivered >= 1, 'delivered to the EventListener');

    // The same CDEvent again, into the Broker, as a redelivery sends it: same id, same data.
    const headers: Record<string, string> = { 'content-type': announced.contentType ?? 'application/json' };
    for (const [key, value] of Object.entries(announced.attributes)) headers[`ce-${key}`] = value;
    const posted = await postViaProxy(eventing.proxyUrl, BROKER_URL, headers, announced.body);
    assert.equal(posted.status, 202, posted.body);
    await waitFor(async () => (listenerHops(id).slice(delivered).some((hop) => hop.status === 202) ? true : undefined), {
      what: 'the redelivery to reach the EventListener',
      timeoutMs: 120_000,
    });
    // The sink answers before it creates; its refused create (AlreadyExists) is in its log.
    await waitFor(async () => (refusals(name) > 0 ? true : undefined), {
      what: `the sink to be refused a second ${name}`,
      timeoutMs: 60_000,
      onTimeout: () => triggers.logTail('listener', 20),
    });
    assert.deepEqual((await scanRuns()).map((r) => r.metadata.name), [name], 'still exactly one TaskRun');
  });

  it('a TaskRun that built two images ends in exactly two TaskRuns, one per digest, each named by that image\'s event id', async () => {
    const tool = (await pushTestImage(registry, { repository: `${NS}/tool`, tag: 'latest', layerSizes: [512] })).digest;
    const images = [`${registry.host}/${NS}/app@${digest}`, `${registry.host}/${NS}/tool@${tool}`];
    const taskRun = { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name: 'two-images-1', namespace: NS }, spec: { taskRef: { name: 'buildah' } } };
    await createWithStatus(cp, taskRun);
    // Tekton's IMAGES result: every image the run pushed, by digest.
    await setStatus(cp, taskRun, { podName: 'two-images-1-pod', conditions: SUCCEEDED, results: [{ name: 'IMAGES', type: 'string', value: images.join(',') }] });
    const object = `TaskRun/${NS}/two-images-1`;
    const runs = await scansOf(object, 2);
    const idsSeen = () => [...new Set(announcements.received.filter((e) => aboutObject(e, 'two-images-1')).map((e) => e.attributes['id'] ?? ''))];
    const ids = await waitFor(async () => { const seen = idsSeen(); return seen.length >= 2 ? seen : undefined; }, { what: 'both artifact.published at the observer', timeoutMs: 120_000 });
    assert.equal(ids.length, 2, 'one artifact.published per image');
    assert.deepEqual(runs.map((r) => r.metadata.name).sort(), ids.map((id) => `${LISTENER}-${id}`).sort());
    assert.deepEqual(runs.map((r) => paramsOf(r)['image']).sort(), [...images].sort(), 'each image by its digest');
    // One name per event id, and these are the object's only two events: no third TaskRun can follow.
    assert.equal((await scanRuns()).filter((r) => paramsOf(r)['object'] === object).length, 2, 'exactly two');
  });
});
