/**
 * The shipped direct-sink variant (knative/variants/direct-sink/) on real Knative Eventing: the
 * ApiServerSource reconciler resolves the sink to the function's Service, and its adapter posts
 * straight to it, with no Broker. A smaller set than broker_test.ts: what this variant promises
 * differently. Stand-ins: Thoth, Serving (the function's address), builds/log.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { postViaProxy } from '../harness/cluster-proxy.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { startEventing, type Eventing } from '../harness/eventing.js';
import { clusterLocalUrl } from '../harness/serving-stand-in.js';
import { waitFor } from '../harness/wait.js';
import { metricTotal } from '../function/run-function.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { clusterRegistryStream, completeStatus, createWithStatus, streamTagBuild } from './cluster.js';
import { deployDefaultInstall, NAMESPACE, type DefaultInstall } from './default-install.js';

const NS = NAMESPACE;
const BUILDS = `/apis/build.openshift.io/v1/namespaces/${NS}/builds`;
const SUBMITTED_AT = 'build-watcher.thoth-station.ninja/submitted-at';
const FUNCTION_HOST = `build-watcher.${NS}.svc.cluster.local`;

describe('the direct-sink variant on real Knative Eventing (no Broker)', { timeout: 900_000 }, () => {
  let cp: ControlPlane;
  let eventing: Eventing;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  let install: DefaultInstall;
  let digest: string;

  async function build(name: string): Promise<void> {
    cp.setBuildLog(NS, name, `built ${name}\n`);
    await createWithStatus(cp, streamTagBuild(NS, name), completeStatus(`${registry.host}/${NS}/app:latest`, digest));
  }

  const isSubmitted = async (name: string): Promise<boolean> => {
    const object = (await cp.admin.json({ path: `${BUILDS}/${name}` })) as { metadata: { annotations?: Record<string, string> } };
    return object.metadata.annotations?.[SUBMITTED_AT] !== undefined;
  };
  const waitSubmitted = (name: string): Promise<true> =>
    waitFor(async () => ((await isSubmitted(name)) ? true : undefined), { what: `${name} marked submitted`, timeoutMs: 120_000, intervalMs: 250 });

  before(async () => {
    thoth = await ThothStub.start();
    registry = await startRegistry();
    cp = await startControlPlane();
    digest = (await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [4096] })).digest;
    eventing = await startEventing(cp);
    install = await deployDefaultInstall(cp, eventing, thoth.url, { sink: 'direct' });
    // The loopback registry plays the cluster's: an ImageStream vouches for its repository.
    await clusterRegistryStream(cp, registry.host, NS, 'app');
  });

  after(async () => {
    await install?.stop();
    await eventing?.stop();
    await cp?.stop();
    await registry?.stop();
    await thoth?.close();
  });

  it('the source posts straight to the function\'s Service: a completed Build is submitted once', async () => {
    const before = thoth.submissions.length;
    const echoes = () => metricTotal(install.fn.url, /decision="ignored:(marked-since|already-submitted)"/);
    const echoesBefore = await echoes();
    await build('direct-1');
    await waitSubmitted('direct-1');
    assert.equal(thoth.submissions.length - before, 1);
    const hosts = new Set(eventing.hops.filter((hop) => hop.attributes['name'] === 'direct-1').map((hop) => hop.host));
    assert.deepEqual([...hosts], [FUNCTION_HOST], 'no Broker on the way');

    // Its API calls, once the adapter has delivered the updates the claim and the mark caused:
    // one GET of the Build before claiming it, none for either echo.
    await waitFor(async () => ((await echoes()) - echoesBefore >= 2 ? true : undefined), { what: 'the echoes of the claim and the mark', timeoutMs: 60_000 });
    const calls = cp.apiCallsWith(install.functionToken).filter((call) => call.includes('/builds/direct-1'));
    assert.deepEqual(calls.map((call) => call.replace(/ .*\/builds\/direct-1/, ' ')).sort(), ['GET ', 'GET /log', 'PATCH ', 'PATCH '], calls.join('\n'));
  });

  it('with the function down, the adapter tries each event 6 times, then drops it; a sweep posted to the function finds the Build', async () => {
    const before = thoth.submissions.length;
    await install.stopFunction();
    await build('dropped-1');
    const attemptsOf = (id: string): number => eventing.hops.filter((hop) => hop.attributes['id'] === id && hop.host === FUNCTION_HOST).length;
    const ids = (): string[] => [...new Set(eventing.hops.filter((hop) => hop.attributes['name'] === 'dropped-1').map((hop) => hop.attributes['id'] ?? ''))];
    // The add and the Complete update, each given up after its last attempt.
    await waitFor(async () => (ids().length >= 2 && ids().every((id) => attemptsOf(id) >= 6) ? true : undefined), {
      what: 'both events of dropped-1 tried 6 times',
      timeoutMs: 120_000,
    });
    await install.restartFunction();
    // The adapter sends one event at a time: once a later Build is through, it is done with dropped-1.
    await build('after-1');
    await waitSubmitted('after-1');
    assert.deepEqual(ids().map(attemptsOf), [6, 6]);
    assert.equal(await isSubmitted('dropped-1'), false, 'the dropped Build is not submitted');
    assert.equal(thoth.submissions.length - before, 1);

    const sweep = await postViaProxy(
      eventing.proxyUrl,
      clusterLocalUrl(NS, 'build-watcher'),
      { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': randomUUID(), 'ce-source': 'test', 'ce-type': 'dev.build-watcher.sweep.requested' },
      '{}',
    );
    assert.ok(sweep.status >= 200 && sweep.status < 300, `sweep answered ${sweep.status}`);
    await waitSubmitted('dropped-1');
    assert.equal(thoth.submissions.length - before, 2);
  });
});
