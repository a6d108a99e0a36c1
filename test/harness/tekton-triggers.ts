/**
 * Tekton Triggers' real controller and EventListener sink (github.com/tektoncd/triggers at the
 * version test/tools/versions.env pins, built by test/tools/triggers.sh) on the local control
 * plane, beside real Knative Eventing (eventing.ts).
 *
 * What stands in for a cluster, and nothing else:
 * - kubelet: the controller creates a Deployment for each EventListener; no kubelet runs here, so
 *   `startListener` runs the sink binary itself with that Deployment's args and environment (its
 *   port swapped for a free loopback one) and a token of its service account;
 * - kube-proxy: the EventListener's Service host is routed to that port through Eventing's
 *   cluster proxy;
 * - the core interceptors' Deployment: the sink refuses to start until every `server/type: https`
 *   ClusterInterceptor carries a caBundle, which that Deployment writes. The shipped core
 *   ClusterInterceptors are applied with the control plane's CA as their caBundle; they are never
 *   called (the scan component uses no interceptor).
 * Triggers' CRDs, ConfigMaps and the controller's Deployment (its args and environment) come
 * unmodified from the module's config/. Triggers' admission webhook and its core interceptors do
 * not run (the scan component uses no interceptor). The controller runs as admin: its own RBAC is
 * not what is under test; the sink runs as the EventListener's service account, whose RBAC is.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifests } from './apply.js';
import type { ManifestObject } from './apply.js';
import { goModuleDir } from './components.js';
import type { ControlPlane } from './controlplane.js';
import type { Eventing } from './eventing.js';
import { freePort } from './free-port.js';
import { registerTempDir, startProcess } from './processes.js';
import type { ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';
import { toolVersion, toolsDir, triggersCrds } from '../manifests/kustomize.js';

const SYSTEM_NAMESPACE = 'tekton-pipelines';

export interface TektonTriggers {
  /** Plays kubelet for the Deployment the controller created for EventListener `namespace/name`; resolves once the sink serves. */
  startListener(namespace: string, name: string): Promise<ManagedProcess>;
  logTail(component: 'controller' | 'listener', lines?: number): string;
  stop(): Promise<void>;
}

interface EnvVar { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }
interface Deployment {
  metadata: { name: string };
  spec: { template: { spec: { serviceAccountName?: string; containers: { args?: string[]; env?: EnvVar[] }[] } } };
}

/** A container's environment as kubelet resolves it (only the fieldRefs these Deployments use). */
function resolveEnv(env: readonly EnvVar[], pod: { namespace: string; name: string }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const variable of env) {
    const path = variable.valueFrom?.fieldRef?.fieldPath;
    if (path === 'metadata.namespace') out[variable.name] = pod.namespace;
    else if (path === 'metadata.name') out[variable.name] = pod.name;
    else if (variable.value !== undefined) out[variable.name] = variable.value;
  }
  return out;
}

/**
 * A free port below 32768: Knative's metrics reads METRICS_PROMETHEUS_PORT as a 16-bit signed
 * integer, and the OS's ephemeral ports lie above it.
 */
async function metricsPort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 22_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

function firstContainer(deployment: Deployment): { args: string[]; env: EnvVar[] } {
  const container = deployment.spec.template.spec.containers[0];
  return { args: container?.args ?? [], env: container?.env ?? [] };
}

export async function startTektonTriggers(cp: ControlPlane, eventing: Eventing, options: { timeoutMs?: number } = {}): Promise<TektonTriggers> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const bin = toolsDir(`tekton-triggers-${toolVersion('TRIGGERS_VERSION')}`);
  const config = join(await goModuleDir('github.com/tektoncd/triggers', toolVersion('TRIGGERS_VERSION')), 'config');
  const dir = await mkdtemp(join(tmpdir(), 'build-watcher-triggers-'));
  const removeDir = registerTempDir(dir);
  const logDir = process.env['BUILD_WATCHER_HARNESS_LOG_DIR'] ?? dir;
  const processes = new Map<'controller' | 'listener', ManagedProcess>();
  const base = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/', PROFILING_PORT: '0' };

  await cp.applyManifests([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: SYSTEM_NAMESPACE } }]);
  await cp.applyManifests(await triggersCrds());
  const configMaps: ManifestObject[] = [];
  for (const name of ['config-defaults-triggers', 'config-feature-flags', 'config-info', 'config-leader-election-controller', 'config-logging', 'config-observability']) {
    configMaps.push(...(await loadManifests(join(config, `${name}.yaml`))));
  }
  await cp.applyManifests(configMaps);
  const caBundle = Buffer.from(cp.caPem).toString('base64');
  await cp.applyManifests(
    (await loadManifests(join(config, 'interceptors/core-interceptors.yaml')))
      .filter((o) => o.kind === 'ClusterInterceptor')
      .map((o) => {
        const spec = o['spec'] as { clientConfig: Record<string, unknown> };
        return { ...o, spec: { ...spec, clientConfig: { ...spec.clientConfig, caBundle } } };
      }),
  );

  const [shipped] = (await loadManifests(join(config, 'controller.yaml'))).filter((o) => o.kind === 'Deployment') as unknown as Deployment[];
  if (shipped === undefined) throw new Error(`no Deployment in ${config}/controller.yaml`);
  const controllerSpec = firstContainer(shipped);
  // The image the controller writes into each EventListener's Deployment: never pulled, the harness runs the sink.
  const args = controllerSpec.args.map((arg, i, all) => (all[i - 1] === '-el-image' ? 'eventlistenersink.invalid' : arg));
  const controller = startProcess({
    name: 'triggers-controller',
    command: join(bin, 'controller'),
    args,
    env: {
      ...base,
      ...resolveEnv(controllerSpec.env, { namespace: SYSTEM_NAMESPACE, name: 'tekton-triggers-controller-0' }),
      METRICS_PROMETHEUS_PORT: String(await metricsPort()),
      KUBECONFIG: cp.adminKubeconfigPath,
    },
    logPath: join(logDir, 'triggers-controller.log'),
  });
  processes.set('controller', controller);

  const stop = async (): Promise<void> => {
    for (const proc of [...processes.values()].reverse()) await proc.stop(5_000);
    removeDir();
  };

  return {
    async startListener(namespace, name) {
      const deployment = await waitFor(
        async () => {
          if (!controller.running()) throw new Error(`the Triggers controller exited:\n${controller.logTail()}`);
          const path = await cp.pathFor('apps/v1', 'Deployment', namespace, `el-${name}`);
          return (await cp.admin.json({ path }).catch(() => undefined)) as Deployment | undefined;
        },
        { what: `the controller to create the Deployment of EventListener ${namespace}/${name}`, timeoutMs, onTimeout: () => controller.logTail(20) },
      );
      const spec = firstContainer(deployment);
      const port = await freePort();
      const listener = startProcess({
        name: 'triggers-listener',
        command: join(bin, 'eventlistenersink'),
        args: spec.args.map((arg) => (arg.startsWith('--port=') ? `--port=${port}` : arg)),
        env: {
          ...base,
          ...resolveEnv(spec.env, { namespace, name: `${deployment.metadata.name}-0` }),
          METRICS_PROMETHEUS_PORT: String(await metricsPort()),
          KUBECONFIG: await cp.kubeconfigForServiceAccount(namespace, deployment.spec.template.spec.serviceAccountName ?? 'default'),
        },
        logPath: join(logDir, 'triggers-listener.log'),
      });
      processes.set('listener', listener);
      await waitFor(
        async () => {
          if (!listener.running()) throw new Error(`the EventListener sink exited:\n${listener.logTail()}`);
          return fetch(`http://127.0.0.1:${port}/live`).then((r) => (r.ok ? true : undefined), () => undefined);
        },
        { what: `the EventListener sink ${namespace}/${name} to serve`, timeoutMs, onTimeout: () => listener.logTail(20) },
      );
      eventing.routeService(namespace, `el-${name}`, port);
      return listener;
    },
    logTail: (component, lines) => processes.get(component)?.logTail(lines) ?? '',
    stop,
  };
}
