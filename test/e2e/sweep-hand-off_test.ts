/**
 * The sweep's hand-off on real Knative Eventing: Builds that finished while the adapter was down, one sweep posted into
 * the Broker, the first BUILD_WATCHER_SWEEP_BATCH worked on by the sweep itself and every further one handed to the
 * Broker as dev.build-watcher.object.pending, which the shipped Trigger (knative/trigger-sweep.yaml) delivers back to the
 * function. The function's K_SINK is the Broker's address reached through the harness's cluster proxy (a relay on
 * 127.0.0.1: the function runs outside the harness's network namespace), as the sweep component's SinkBinding sets it.
 * Stand-ins as in broker_test.ts: Thoth, Serving, builds/log.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { postViaProxy } from '../harness/cluster-proxy.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { startEventing, type Eventing } from '../harness/eventing.js';
import { waitFor } from '../harness/wait.js';
import { cloudEventHeaders, metricTotal } from '../function/run-function.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { clusterRegistryStream, completeStatus, createWithStatus, streamTagBuild } from './cluster.js';
import { relayToBroker } from './broker-relay.js';
import { BROKER_URL, deployDefaultInstall, NAMESPACE, type DefaultInstall } from './default-install.js';

const NS = NAMESPACE;
const BUILDS = `/apis/build.openshift.io/v1/namespaces/${NS}/builds`;
const SUBMITTED_AT = 'build-watcher.thoth-station.ninja/submitted-at';
const STRANDED = 40;
const BATCH = 5;

describe('the sweep hands off to the Broker, on real Knative Eventing', { timeout: 900_000 }, () => {
  let cp: ControlPlane;
  let eventing: Eventing;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  let install: DefaultInstall;
  let relay: Awaited<ReturnType<typeof relayToBroker>>;
  let digest: string;

  before(async () => {
    thoth = await ThothStub.start();
    registry = await startRegistry();
    cp = await startControlPlane();
    digest = (await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [4096] })).digest;
    eventing = await startEventing(cp);
    relay = await relayToBroker(eventing);
    install = await deployDefaultInstall(cp, eventing, thoth.url, { functionEnv: { K_SINK: relay.url, BUILD_WATCHER_SWEEP_BATCH: String(BATCH) } });
    await clusterRegistryStream(cp, registry.host, NS, 'app');
  });

  after(async () => {
    await install?.stop();
    await relay?.close();
    await eventing?.stop();
    await cp?.stop();
    await registry?.stop();
    await thoth?.close();
  });

  it(`${STRANDED} Builds finished while the adapter was down: one sweep through the Broker works on ${BATCH}, hands ${STRANDED - BATCH} back through the Broker, and each is submitted once`, async () => {
    await install.adapter.stop();
    const names = Array.from({ length: STRANDED }, (_, i) => `stranded-${i}`);
    for (const name of names) {
      cp.setBuildLog(NS, name, `built ${name}\n`);
      await createWithStatus(cp, streamTagBuild(NS, name), completeStatus(`${registry.host}/${NS}/app:latest`, digest));
    }
    const sent = await postViaProxy(eventing.proxyUrl, BROKER_URL, cloudEventHeaders('dev.build-watcher.sweep.requested', { id: randomUUID() }), '{}');
    assert.ok(sent.status >= 200 && sent.status < 300, `the Broker accepted the sweep: ${sent.status}`);
    const marked = async (): Promise<number> => {
      const list = (await cp.admin.json({ path: BUILDS })) as { items: { metadata: { annotations?: Record<string, string> } }[] };
      return list.items.filter((b) => b.metadata.annotations?.[SUBMITTED_AT] !== undefined).length;
    };
    await waitFor(async () => ((await marked()) >= STRANDED ? true : undefined), { what: `${STRANDED} Builds marked`, timeoutMs: 600_000, intervalMs: 250 });
    const perBuild = names.map((name) => thoth.submissions.filter((s) => (s.body?.build_log?.log ?? '').includes(`built ${name}\n`)).length);
    assert.deepEqual(perBuild.filter((count) => count !== 1), [], 'each Build submitted exactly once');
    // Counted once the delivery is answered, which comes after the mark: wait for the count to settle, then compare.
    const pendingSubmitted = () => metricTotal(install.fn.url, /^build_watcher_events_received_total\{type="object.pending",decision="submitted"/);
    await waitFor(async () => ((await pendingSubmitted()) >= STRANDED - BATCH ? true : undefined), { what: 'every hand-off answered', timeoutMs: 60_000, intervalMs: 250 }).catch(() => undefined);
    assert.equal(await pendingSubmitted(), STRANDED - BATCH, 'the handed-off objects came back through the Broker and were submitted there');
    const hops = eventing.hops.filter((hop) => hop.attributes['type'] === 'dev.build-watcher.object.pending');
    assert.ok(hops.some((hop) => hop.host.startsWith('broker-ingress.')), 'they entered the Broker');
    assert.equal(install.deadLetters.received.length, 0, 'nothing dead-lettered');
  });
});
