/**
 * "Any CloudEvent sink" on real Knative Eventing: the default install, the function's K_SINK the Broker (through the harness's
 * relay, as the sweep component's SinkBinding sets it), and a Trigger of the README's ("CDEvents" › "Any CloudEvent sink")
 * filtering on the artifact.published type, to the CDEvents consumer on the official Java SDK (test/cdevents-consumer). A
 * second Trigger on artifact.packaged, to a plain receiver, witnesses that the packaged event went through the Broker too and
 * only the filtered type reached the consumer. Stand-ins as in broker_test.ts: Thoth, Serving, builds/log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CDEVENT_TYPES } from '../../functions/events/cdevents.js';
import { startCDEventsConsumer, type CDEventsConsumer } from '../harness/cdevents-consumer.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { startEventSink, type EventSink } from '../harness/event-sink.js';
import { startEventing, type Eventing } from '../harness/eventing.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { relayToBroker } from './broker-relay.js';
import { clusterRegistryStream, completeStatus, createWithStatus, streamTagBuild } from './cluster.js';
import { deployDefaultInstall, NAMESPACE, type DefaultInstall } from './default-install.js';

const NS = NAMESPACE;

/** A Trigger on our Broker for one type, to a Service: the README's example. */
const trigger = (name: string, type: string, service: string) => ({
  apiVersion: 'eventing.knative.dev/v1',
  kind: 'Trigger',
  metadata: { name, namespace: NS },
  spec: { broker: 'build-watcher', filter: { attributes: { type } }, subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: service } } },
});

describe('CDEvents through the Broker to a Trigger filtering on type, on real Knative Eventing', { timeout: 900_000 }, () => {
  let cp: ControlPlane;
  let eventing: Eventing;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  let install: DefaultInstall;
  let relay: Awaited<ReturnType<typeof relayToBroker>>;
  let consumer: CDEventsConsumer;
  let witness: EventSink;
  let digest: string;

  before(async () => {
    [thoth, registry, cp, consumer, witness] = await Promise.all([ThothStub.start(), startRegistry(), startControlPlane(), startCDEventsConsumer(), startEventSink()]);
    digest = (await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [1024] })).digest;
    eventing = await startEventing(cp);
    relay = await relayToBroker(eventing);
    install = await deployDefaultInstall(cp, eventing, thoth.url, { functionEnv: { K_SINK: relay.url } });
    await clusterRegistryStream(cp, registry.host, NS, 'app');
    await eventing.serveService(NS, 'cdevents-consumer', Number(new URL(consumer.url).port));
    await eventing.serveService(NS, 'packaged-witness', Number(new URL(witness.url).port));
    await cp.applyManifests([trigger('cdevents-published', CDEVENT_TYPES.published, 'cdevents-consumer'), trigger('packaged-witness', CDEVENT_TYPES.packaged, 'packaged-witness')]);
    for (const name of ['cdevents-published', 'packaged-witness']) await eventing.waitReady('eventing.knative.dev/v1', 'Trigger', NS, name);
  });

  after(async () => {
    await install?.stop();
    await relay?.close();
    await eventing?.stop();
    await Promise.all([consumer?.stop(), witness?.close()]);
    await cp?.stop();
    await registry?.stop();
    await thoth?.close();
  });

  it('a completed Build\'s artifact.published reaches the consumer through the Trigger and the SDK accepts it; artifact.packaged goes only where its own Trigger says', async () => {
    const build = streamTagBuild(NS, 'cdevents-1');
    build['spec'] = { ...(build['spec'] as Record<string, unknown>), revision: { type: 'Git', git: { commit: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' } } };
    cp.setBuildLog(NS, 'cdevents-1', 'built cdevents-1\n');
    await createWithStatus(cp, build, completeStatus(`${registry.host}/${NS}/app:latest`, digest));
    const named = (body: string | undefined) => (body ?? '').includes('"name":"cdevents-1"');
    const records = await consumer.waitFor((all) => all.some((r) => r.type === CDEVENT_TYPES.published && named(r.body)), 'artifact.published at the consumer', 240_000);
    await witness.waitForEvent((event) => event.attributes['type'] === CDEVENT_TYPES.packaged && named(event.body), 120_000);
    const ours = consumer.records().filter((r) => named(r.body));
    assert.deepEqual(ours.map((r) => [r.type, r.verdict]), [[CDEVENT_TYPES.published, 'accepted']], 'only the filtered type, accepted by the SDK');
    assert.equal(records.filter((r) => r.verdict === 'rejected').length, 0);
    assert.match(ours[0]?.subject ?? '', /^pkg:oci\/app@sha256%3A[0-9a-f]{64}\?repository_url=/);
  });
});
