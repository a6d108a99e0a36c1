/**
 * `npm run demo`: the main job on the local default install, Broker and all. Starts
 * kube-apiserver and etcd, real Knative Eventing (Broker ingress and filter, InMemoryChannel,
 * the reconcilers), a docker-registry and the Thoth stand-in, applies knative/ as shipped,
 * starts the function as the Knative Service's stand-in revision and the ApiServerSource's
 * adapter from the Deployment its reconciler wrote, pushes a small image and completes a sample
 * Build the way OpenShift's build controller does. Then shows what Thoth received, what the
 * Build now carries, and the path the events took: source → Broker → Trigger → function →
 * reply, and where the reply went. Runs until Ctrl-C; `--once` stops after the first submission.
 */
import { parseArgs } from 'node:util';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { startEventing, type Eventing } from '../harness/eventing.js';
import type { ProxiedRequest } from '../harness/cluster-proxy.js';
import { waitFor } from '../harness/wait.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { clusterRegistryStream, completeStatus, createWithStatus, streamTagBuild } from '../e2e/cluster.js';
import { deployDefaultInstall, NAMESPACE, type DefaultInstall } from '../e2e/default-install.js';

const NS = NAMESPACE;
const BUILDS = `/apis/build.openshift.io/v1/namespaces/${NS}/builds`;
const PREFIX = 'build-watcher.thoth-station.ninja/';

const { values } = parseArgs({ options: { once: { type: 'boolean', default: false } } });

const step = (text: string) => console.log(`\n▶ ${text}`);

interface Parts {
  cp?: ControlPlane;
  eventing?: Eventing;
  registry?: RunningRegistry;
  thoth?: ThothStub;
  install?: DefaultInstall;
}

async function stopAll(parts: Parts): Promise<void> {
  await parts.install?.stop();
  await parts.eventing?.stop();
  await parts.thoth?.close();
  await parts.registry?.stop();
  await parts.cp?.stop();
}

interface TriggerJson {
  metadata: { name: string };
  spec: { filter?: { attributes?: Record<string, string> } };
}

/**
 * One line per event: each hop the proxy forwarded for that CloudEvent id, and which Triggers'
 * filters it passes. (The filters answer non-matching events 200 without forwarding, so the
 * match is read from the Triggers' own `spec.filter`, exact attributes as Knative matches them.)
 */
function printPaths(hops: readonly ProxiedRequest[], triggers: readonly TriggerJson[], matches: (hop: ProxiedRequest) => boolean): void {
  const ids = [...new Set(hops.filter(matches).map((hop) => hop.attributes['id'] ?? ''))];
  for (const id of ids) {
    const path = hops.filter((hop) => hop.attributes['id'] === id);
    const attributes = path[0]?.attributes ?? {};
    const passing = triggers.filter((t) => Object.entries(t.spec.filter?.attributes ?? {}).every(([key, value]) => attributes[key] === value));
    const answer = (host: string): string => String(path.find((hop) => hop.host.startsWith(host))?.status || 'pending');
    const fn = path.find((hop) => hop.host === `build-watcher.${NS}.svc.cluster.local`);
    console.log(`  ${attributes['type'] ?? '?'}`);
    console.log(`    → Broker build-watcher (ingress ${answer('broker-ingress.')}) → InMemoryChannel (dispatcher ${answer('build-watcher-kne-trigger-kn-channel.')})`);
    console.log(`    → Triggers: ${passing.length === 0 ? 'none matches: dropped' : passing.map((t) => t.metadata.name).join(', ')}`);
    if (fn !== undefined) console.log(`    → Service build-watcher (the function) answered ${fn.status || 'nothing yet'}${fn.status === 200 ? ' with a reply CloudEvent (below)' : ''}`);
  }
}

async function main(): Promise<void> {
  const parts: Parts = {};
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopAll(parts));
  const interrupted = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  try {
    step('starting etcd, kube-apiserver, Knative Eventing, a docker-registry and the Thoth stand-in');
    parts.thoth = await ThothStub.start();
    parts.registry = await startRegistry();
    parts.cp = await startControlPlane();
    parts.eventing = await startEventing(parts.cp);
    const { cp, registry, thoth, eventing } = parts as Required<Parts>;
    console.log(`  API server   ${cp.server} (Kubernetes ${cp.versions.kubernetes}, Knative Eventing ${cp.versions.eventing})`);
    console.log(`  registry     ${registry.url}`);
    console.log(`  Thoth        ${thoth.url}  (stand-in)`);

    step('oc apply -f knative/ (as shipped); the function as the build-watcher Service (Serving stand-in); the ApiServerSource adapter');
    parts.install = await deployDefaultInstall(cp, eventing, thoth.url);
    console.log(`  function     ${parts.install.fn.url} = http://build-watcher.${NS}.svc.cluster.local`);

    step('pushing a small image and completing a sample Build');
    const image = await pushTestImage(registry, { repository: `${NS}/demo-app`, tag: 'latest', layerSizes: [64 * 1024, 256 * 1024] });
    // What OpenShift's registry does on a first push: the ImageStream that vouches for the repository.
    await clusterRegistryStream(cp, registry.host, NS, 'demo-app');
    console.log(`  pushed       ${registry.host}/${NS}/demo-app:latest = ${image.digest}`);
    cp.setBuildLog(NS, 'demo-app-1', 'STEP 1/2: FROM scratch\nSTEP 2/2: COPY app /app\nSuccessfully pushed demo-app\n');
    await createWithStatus(cp, streamTagBuild(NS, 'demo-app-1', 'demo-app'), completeStatus(`${registry.host}/${NS}/demo-app:latest`, image.digest));

    step('what Thoth received');
    const [submission] = await thoth.awaitSubmissions(1, 120_000);
    console.log(`  POST /api/v1/build-analysis`);
    console.log(`    output_image  ${submission?.body?.output_image ?? '-'}`);
    console.log(`    build_log     ${JSON.stringify((submission?.body?.build_log?.log ?? '').slice(0, 60))}…`);
    console.log(`    answered      ${JSON.stringify(submission?.response)}`);

    step('what the Build now shows (oc describe build demo-app-1)');
    const annotations = await waitFor(async () => {
      const build = (await cp.admin.json({ path: `${BUILDS}/demo-app-1` })) as { metadata: { annotations?: Record<string, string> } };
      return build.metadata.annotations?.[`${PREFIX}submitted-at`] !== undefined ? build.metadata.annotations : undefined;
    }, { timeoutMs: 60_000, what: 'the Build to be marked' });
    for (const [key, value] of Object.entries(annotations)) if (key.startsWith(PREFIX)) console.log(`  ${key}: ${value}`);
    const events = (await cp.admin.json({ path: `/api/v1/namespaces/${NS}/events` })) as { items: { type: string; reason: string; message: string; involvedObject: { name: string } }[] };
    for (const event of events.items.filter((e) => e.involvedObject.name === 'demo-app-1')) console.log(`  Event ${event.type} ${event.reason}: ${event.message}`);

    step('the path each event took (every hop through cluster DNS, as the components sent it)');
    const ours = (hop: ProxiedRequest): boolean =>
      hop.attributes['name'] === 'demo-app-1' || hop.attributes['type']?.startsWith('dev.build-watcher.analysis.') === true;
    // The function's own annotation updates are still on their way: let their hops answer first.
    await waitFor(async () => (eventing.hops.filter(ours).every((hop) => hop.status !== 0) ? true : undefined), {
      what: 'the last hops to answer',
      timeoutMs: 15_000,
    }).catch(() => undefined);
    const triggers = ((await cp.admin.json({ path: `/apis/eventing.knative.dev/v1/namespaces/${NS}/triggers` })) as { items: TriggerJson[] }).items;
    console.log(`  the Build's events, from the ApiServerSource's adapter (K_SINK = the Broker's address):`);
    printPaths(eventing.hops, triggers, (hop) => hop.attributes['name'] === 'demo-app-1');
    console.log(`  the function's replies, published back into the Broker:`);
    printPaths(eventing.hops, triggers, (hop) => hop.attributes['type']?.startsWith('dev.build-watcher.analysis.') === true);

    if (values.once) return;
    step(`running: create Builds in namespace ${NS} with the admin kubeconfig ${cp.adminKubeconfigPath}; Ctrl-C stops everything`);
    await interrupted;
  } finally {
    step('stopping');
    await stop();
  }
}

await main();
