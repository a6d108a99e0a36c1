/**
 * `npm run demo`: the main job on a local default stack. Starts kube-apiserver and etcd,
 * Knative's ApiServerSource adapter, a docker-registry, the Thoth stand-in and the function
 * (each with the service accounts of knative/), pushes a small image, completes a sample Build
 * the way OpenShift's build controller does, and shows what Thoth received and what the
 * Build now carries. Runs until Ctrl-C; `--once` stops after the first submission.
 */
import { parseArgs } from 'node:util';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { waitFor } from '../harness/wait.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import type { RunningFunction } from '../function/run-function.js';
import { clusterRegistryStream } from '../e2e/cluster.js';
import { deployBuildWatcher, NAMESPACE } from '../e2e/deployment.js';
import type { AdapterHandle } from '../harness/adapter.js';

const NS = NAMESPACE;
const BUILDS = `/apis/build.openshift.io/v1/namespaces/${NS}/builds`;
const PREFIX = 'build-watcher.thoth-station.ninja/';

const { values } = parseArgs({ options: { once: { type: 'boolean', default: false } } });

const step = (text: string) => console.log(`\n▶ ${text}`);

interface Parts {
  cp?: ControlPlane;
  registry?: RunningRegistry;
  thoth?: ThothStub;
  fn?: RunningFunction;
  adapter?: AdapterHandle;
}

async function stopAll(parts: Parts): Promise<void> {
  await parts.adapter?.stop();
  await parts.fn?.stop();
  await parts.thoth?.close();
  await parts.registry?.stop();
  await parts.cp?.stop();
}

async function main(): Promise<void> {
  const parts: Parts = {};
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopAll(parts));
  const interrupted = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  try {
    step('starting etcd, kube-apiserver, a docker-registry and the Thoth stand-in');
    parts.thoth = await ThothStub.start();
    parts.registry = await startRegistry();
    parts.cp = await startControlPlane();
    const { cp, registry, thoth } = parts as Required<Parts>;
    console.log(`  API server   ${cp.server} (Kubernetes ${cp.versions.kubernetes})`);
    console.log(`  registry     ${registry.url}`);
    console.log(`  Thoth        ${thoth.url}  (stand-in)`);

    step('applying knative/ RBAC; starting the function (faas-js-runtime) and the ApiServerSource adapter');
    ({ fn: parts.fn, adapter: parts.adapter } = await deployBuildWatcher(cp, thoth.url));
    console.log(`  function     ${parts.fn.url}`);

    step('pushing a small image and completing a sample Build');
    const image = await pushTestImage(registry, { repository: `${NS}/demo-app`, tag: 'latest', layerSizes: [64 * 1024, 256 * 1024] });
    // What OpenShift's registry does on a first push: the ImageStream that vouches for the repository.
    await clusterRegistryStream(cp, registry.host, NS, 'demo-app');
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
      path: `${BUILDS}/demo-app-1`,
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
    const [submission] = await thoth.awaitSubmissions(1, 60_000);
    console.log(`  POST /api/v1/build-analysis`);
    console.log(`    output_image  ${submission?.body?.output_image ?? '-'}`);
    console.log(`    build_log     ${JSON.stringify((submission?.body?.build_log?.log ?? '').slice(0, 60))}…`);
    console.log(`    answered      ${JSON.stringify(submission?.response)}`);

    step('what the Build now shows (oc describe build demo-app-1)');
    const annotations = await waitFor(async () => {
      const build = (await cp.admin.json({ path: `${BUILDS}/demo-app-1` })) as { metadata: { annotations?: Record<string, string> } };
      return build.metadata.annotations?.[`${PREFIX}submitted-at`] !== undefined ? build.metadata.annotations : undefined;
    }, { timeoutMs: 30_000, what: 'the Build to be marked' });
    for (const [key, value] of Object.entries(annotations)) if (key.startsWith(PREFIX)) console.log(`  ${key}: ${value}`);
    const events = (await cp.admin.json({ path: `/api/v1/namespaces/${NS}/events` })) as { items: { type: string; reason: string; message: string }[] };
    for (const event of events.items) console.log(`  Event ${event.type} ${event.reason}: ${event.message}`);

    if (values.once) return;
    step(`running: create Builds in namespace ${NS} with the admin kubeconfig ${cp.adminKubeconfigPath}; Ctrl-C stops everything`);
    await interrupted;
  } finally {
    step('stopping');
    await stop();
  }
}

await main();
