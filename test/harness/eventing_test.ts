/**
 * The Knative Eventing harness on its own: a Broker of Knative's defaults becomes Ready, an event
 * posted to it reaches a Trigger's subscriber (a Service of the Serving stand-in) through the real
 * ingress, channel dispatcher and filter, every hop visible at the cluster proxy; and no process
 * is left running afterwards.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { postViaProxy } from './cluster-proxy.js';
import { startControlPlane, type ControlPlane } from './controlplane.js';
import { startEventSink, type EventSink } from './event-sink.js';
import { startEventing, type Eventing } from './eventing.js';
import { isGroupAlive } from './processes.js';

const NS = 'harness-eventing';

describe('local Knative Eventing', { timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let eventing: Eventing;
  let sink: EventSink;

  before(async () => {
    cp = await startControlPlane();
    eventing = await startEventing(cp);
    sink = await startEventSink();
  });

  after(async () => {
    await sink?.close();
    await eventing?.stop();
    await cp?.stop();
  });

  it('delivers an event posted to a Broker to the subscriber of the Trigger that matches it', async () => {
    await cp.applyManifests([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }]);
    await eventing.serveService(NS, 'recorder', Number(new URL(sink.url).port));
    await cp.applyManifests([{ apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'default', namespace: NS } }]);
    await eventing.defaultBroker(NS, 'default');
    const broker = await eventing.waitReady('eventing.knative.dev/v1', 'Broker', NS, 'default');
    const address = (broker['status'] as { address?: { url?: string } }).address?.url;
    assert.equal(address, `http://broker-ingress.knative-eventing.svc.cluster.local/${NS}/default`);
    await cp.applyManifests([
      {
        apiVersion: 'eventing.knative.dev/v1',
        kind: 'Trigger',
        metadata: { name: 'wanted', namespace: NS },
        spec: { broker: 'default', filter: { attributes: { type: 'wanted' } }, subscriber: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'recorder' } } },
      },
    ]);
    await eventing.waitReady('eventing.knative.dev/v1', 'Trigger', NS, 'wanted');

    const post = (type: string, id: string) =>
      postViaProxy(eventing.proxyUrl, address ?? '', { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': 'test', 'ce-type': type }, '{}');
    const unwanted = randomUUID();
    const wanted = randomUUID();
    assert.equal((await post('unwanted', unwanted)).status, 202);
    assert.equal((await post('wanted', wanted)).status, 202);
    await sink.waitForEvent((e) => e.attributes['id'] === wanted, 30_000);
    assert.deepEqual(sink.received.map((e) => e.attributes['id']), [wanted]);
    const hosts = eventing.hops.filter((hop) => hop.attributes['id'] === wanted).map((hop) => hop.host.split('.')[0]);
    assert.deepEqual(hosts, ['broker-ingress', 'default-kne-trigger-kn-channel', 'broker-filter', 'recorder']);
  });

  it('leaves no process behind', async () => {
    const pids = eventing.runningPids();
    assert.ok(pids.length >= 5, `bridge, dispatcher, ingress, filter, controllers: ${pids.join(', ')}`);
    await eventing.stop();
    for (const pid of pids) assert.equal(isGroupAlive(pid), false, `process group ${pid} is gone`);
  });
});
