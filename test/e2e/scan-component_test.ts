/**
 * The scan component (knative/optional/scan/) on the default install, real Knative Eventing and
 * Tekton Triggers' real controller and EventListener sink (test/harness/tekton-triggers.ts): a
 * completed Build, announced by the function (no Thoth) as dev.build-watcher.image.built, reaches
 * the EventListener through the Broker and the component's Trigger, and the sink creates one
 * TaskRun that names the image by digest. A redelivery of the same event creates none: the
 * TaskRun's name is derived from the event's id, so the sink's second create is refused.
 *
 * No kubelet runs here, so a TaskRun's pod never runs (Tekton Pipelines' controller does not run
 * either): the test verifies the TaskRun object the sink created.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { postViaProxy } from '../harness/cluster-proxy.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { startEventSink, type EventSink } from '../harness/event-sink.js';
import { startEventing, type Eventing } from '../harness/eventing.js';
import { startTektonTriggers, type TektonTriggers } from '../harness/tekton-triggers.js';
import { waitFor } from '../harness/wait.js';
import type { ManifestObject } from '../harness/apply.js';
import { layoutCrds } from '../manifests/kustomize.js';
import { applyStep } from '../manifests/manifests.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { clusterRegistryStream, completeStatus, createWithStatus, streamTagBuild } from './cluster.js';
import { BROKER_URL, deployDefaultInstall, NAMESPACE, type DefaultInstall } from './default-install.js';

const NS = NAMESPACE;
const IMAGE_BUILT = 'dev.build-watcher.image.built';
const LISTENER = 'build-watcher-scan';
const LISTENER_HOST = `el-${LISTENER}.${NS}.svc.cluster.local`;

interface TaskRun {
  metadata: { name: string };
  spec: { taskRef?: { name?: string }; params?: { name: string; value: string }[] };
}

describe('the scan component on real Tekton Triggers (Broker path)', { timeout: 900_000 }, () => {
  let cp: ControlPlane;
  let eventing: Eventing;
  let registry: RunningRegistry;
  let install: DefaultInstall;
  let triggers: TektonTriggers;
  let announcements: EventSink;
  let digest: string;

  const taskRuns = async (): Promise<TaskRun[]> =>
    ((await cp.admin.json({ path: `/apis/tekton.dev/v1/namespaces/${NS}/taskruns` })) as { items: TaskRun[] }).items;
  const listenerHops = (id: string) => eventing.hops.filter((hop) => hop.host === LISTENER_HOST && hop.attributes['id'] === id);
  const refusals = (name: string): number => triggers.logTail('listener', 10_000).split('\n').filter((line) => line.includes(name) && line.includes('already exists')).length;

  before(async () => {
    registry = await startRegistry();
    cp = await startControlPlane();
    digest = (await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [1024] })).digest;
    eventing = await startEventing(cp);
    // No Thoth: the function's reply to each Build event is its image.built, back into the Broker.
    install = await deployDefaultInstall(cp, eventing, '');
    await clusterRegistryStream(cp, registry.host, NS, 'app');
    // Tekton's Task CRD and Triggers' CRDs, beside the TaskRun CRD the control plane has.
    await cp.applyManifests(await layoutCrds());
    triggers = await startTektonTriggers(cp, eventing);
    // `oc apply -f knative/optional/scan/`, as the README installs it.
    await cp.applyManifests(applyStep({ path: 'knative/optional/scan/' }).map((m) => m.object as unknown as ManifestObject));
    await triggers.startListener(NS, LISTENER);
    await eventing.waitReady('eventing.knative.dev/v1', 'Trigger', NS, LISTENER);
    // An observer of the announcements, to redeliver one exactly: a Trigger of this test's own.
    announcements = await startEventSink();
    await eventing.serveService(NS, 'announcement-observer', Number(new URL(announcements.url).port));
    await cp.applyManifests([
      {
        apiVersion: 'eventing.knative.dev/v1',
        kind: 'Trigger',
        metadata: { name: 'announcement-observer', namespace: NS },
        spec: { broker: 'build-watcher', filter: { attributes: { type: IMAGE_BUILT } }, subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'announcement-observer' } } },
      },
    ]);
    await eventing.waitReady('eventing.knative.dev/v1', 'Trigger', NS, 'announcement-observer');
  });

  after(async () => {
    await triggers?.stop();
    await install?.stop();
    await announcements?.close();
    await eventing?.stop();
    await cp?.stop();
    await registry?.stop();
  });

  it('a completed Build ends in exactly one TaskRun, named by the event id, that scans the image by digest; a redelivery creates none', async () => {
    await createWithStatus(cp, streamTagBuild(NS, 'app-1'), completeStatus(`${registry.host}/${NS}/app:latest`, digest));
    const announced = await announcements.waitForEvent((e) => e.attributes['type'] === IMAGE_BUILT && e.body.includes('"app-1"'), 120_000);
    const id = announced.attributes['id'] ?? '';
    assert.match(id, /^[0-9a-f]{32}$/, 'the stable event id');
    const name = `${LISTENER}-${id}`;
    const runs = await waitFor(async () => {
      const items = await taskRuns();
      return items.length > 0 ? items : undefined;
    }, { what: 'the EventListener to create a TaskRun', timeoutMs: 120_000, onTimeout: () => triggers.logTail('listener', 20) });
    assert.deepEqual(runs.map((r) => r.metadata.name), [name]);
    const run = runs[0]!;
    assert.equal(run.spec.taskRef?.name, 'build-watcher-scan');
    const params = Object.fromEntries((run.spec.params ?? []).map((p) => [p.name, p.value]));
    assert.deepEqual(params, { image: `${registry.host}/${NS}/app@${digest}`, severity: 'HIGH,CRITICAL', object: `Build/${NS}/app-1` });
    // A retried first delivery would be a redelivery too; count from here.
    const delivered = listenerHops(id).length;
    assert.ok(delivered >= 1, 'delivered to the EventListener');

    // The same event again, into the Broker, as a redelivery sends it: same id, same data.
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
    assert.deepEqual((await taskRuns()).map((r) => r.metadata.name), [name], 'still exactly one TaskRun');
  });
});
