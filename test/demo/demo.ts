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

/** `broker-filter…/triggers/<ns>/<trigger>/<uid>` → `Trigger <trigger>`; other hosts by their Service. */
function describeHop(hop: ProxiedRequest): string {
  const trigger = /^\/triggers\/[^/]+\/([^/]+)\//.exec(hop.path)?.[1];
  if (hop.host.startsWith('broker-ingress.')) return `Broker ${hop.path.split('/')[2] ?? '?'} (ingress)`;
  if (hop.host.startsWith('broker-filter.')) return `Trigger ${trigger ?? '?'} (filter)`;
  if (hop.host.includes('-kn-channel.')) return `InMemoryChannel ${hop.host.split('.')[0]?.replace(/-kn-channel$/, '') ?? '?'}`;
  return `Service ${hop.host.split('.')[0] ?? '?'}`;
}

function printPath(hops: readonly ProxiedRequest[], matches: (hop: ProxiedRequest) => boolean): void {
  for (const hop of hops.filter(matches)) {
    console.log(`    ${hop.attributes['type'] ?? '-'}  →  ${describeHop(hop).padEnd(48)} answered ${hop.status || 'nothing'}`);
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
    console.log(`  pushed       ${registry.host}/${NS}/demo-app:latest = ${image.digest}`);
    await cp.admin.json({
      method: 'POST',
      path: BUILDS,
      body: {
        apiVersion: 'build.openshift.io/v1',
        kind: 'Build',
        metadata: { name: 'demo-app-1', namespace: NS, labels: { 'openshift.io/build-config.name': 'demo-app' } },
        spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'ImageStreamTag', name: 'demo-app:latest' } } },
      },
    });
    cp.setBuildLog(NS, 'demo-app-1', 'STEP 1/2: FROM scratch\nSTEP 2/2: COPY app /app\nSuccessfully pushed demo-app\n');
    const created = (await cp.admin.json({ path: `${BUILDS}/demo-app-1` })) as Record<string, unknown>;
    await cp.admin.json({
      method: 'PUT',
      path: `${BUILDS}/demo-app-1/status`,
      body: {
        ...created,
        status: {
          phase: 'Complete',
          outputDockerImageReference: `${registry.host}/${NS}/demo-app:latest`,
          output: { to: { imageDigest: image.digest } },
        },
      },
    });

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
    const events = (await cp.admin.json({ path: `/api/v1/namespaces/${NS}/events` })) as { items: { type: string; reason: string; message: string }[] };
    for (const event of events.items) console.log(`  Event ${event.type} ${event.reason}: ${event.message}`);

    step('the path the events took (every hop through cluster DNS, as the components sent it)');
    console.log('  ApiServerSource build-watcher-builds (adapter) → Broker → InMemoryChannel → a filter per Trigger → function');
    printPath(eventing.hops, (hop) => hop.attributes['name'] === 'demo-app-1');
    const reply = eventing.hops.find((hop) => hop.attributes['type']?.startsWith('dev.build-watcher.analysis.') === true);
    console.log(`  the function's reply ${reply?.attributes['type'] ?? '(none)'} → back into the Broker, and where it went:`);
    printPath(eventing.hops, (hop) => hop.attributes['type']?.startsWith('dev.build-watcher.analysis.') === true);
    console.log('  (a filter that answers without forwarding dropped it: no shipped Trigger matches a reply type)');

    if (values.once) return;
    step(`running: create Builds in namespace ${NS} with the admin kubeconfig ${cp.adminKubeconfigPath}; Ctrl-C stops everything`);
    await interrupted;
  } finally {
    step('stopping');
    await stop();
  }
}

await main();
