/**
 * Knative Eventing's real data plane and reconcilers on the local control plane, as the default
 * install of build-watcher uses them: the multi-tenant channel-based Broker (ingress, filter),
 * the InMemoryChannel (controller, dispatcher), Triggers, Subscriptions, the ApiServerSource and
 * PingSource reconcilers and the PingSource adapter (mtping), all built by
 * test/controlplane/build.sh at the pinned knative.dev/eventing version.
 *
 * What stands in for a cluster, and nothing else:
 * - kubelet and kube-controller-manager: the harness runs the processes, writes the Endpoints and
 *   Deployment status the reconcilers read, and runs Deployments the reconcilers create (the
 *   ApiServerSource's receive adapter, mtping) with the environment they wrote;
 * - cluster DNS and Service routing: the cluster proxy (cluster-proxy.ts) behind HTTP_PROXY;
 * - Knative Serving: serving-stand-in.ts.
 * Eventing's CRDs, ConfigMaps, Services and Deployments come unmodified from the module's
 * config/ directory. The components run as admin: their own RBAC is not what is under test.
 */
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { AdapterHandle } from './adapter.js';
import { loadManifests } from './apply.js';
import type { ManifestObject } from './apply.js';
import { startClusterProxy } from './cluster-proxy.js';
import type { ClusterProxy, ProxiedRequest } from './cluster-proxy.js';
import { eventingBinaries, goModuleDir } from './components.js';
import type { ControlPlane } from './controlplane.js';
import { answersHttp, NETNS_PORTS, startEventingNetns } from './eventing-netns.js';
import type { EventingNetns } from './eventing-netns.js';
import { registerTempDir } from './processes.js';
import type { ManagedProcess } from './processes.js';
import { serveKnativeService } from './serving-stand-in.js';
import { waitFor } from './wait.js';

export const SYSTEM_NAMESPACE = 'knative-eventing';

/** A Trigger reconciled, in the controllers' log. */
const TRIGGER_RECONCILED = /"msg":"Reconcile succeeded".*broker\.trigger\.Reconciler/;

/** The components a test may restart. */
export type EventingComponent = 'ingress' | 'filter' | 'dispatcher' | 'controllers' | 'mtping';

export interface Eventing {
  /** HTTP_PROXY for processes outside the namespace that must reach cluster-DNS addresses. */
  readonly proxyUrl: string;
  /** Every request between components and to Services so far: each hop of each event. */
  readonly hops: readonly ProxiedRequest[];
  /** Serving stand-in: the Service answers on this loopback port (see serving-stand-in.ts). */
  serveService(namespace: string, name: string, port: number): Promise<string>;
  /** Plays kube-proxy for a plain Service: `<name>.<namespace>.svc.cluster.local` (any port) reaches this loopback port. */
  routeService(namespace: string, name: string, port: number): void;
  /**
   * STAND-IN for the defaulting of Eventing's admission webhook (not run here) that the
   * reconcilers depend on: a Broker without them gets the class annotation and `spec.config`
   * that `config-br-defaults` names, as the webhook writes them on create. Call it after
   * applying a Broker.
   */
  defaultBroker(namespace: string, name: string): Promise<void>;
  /** Waits until the object's Ready condition is True; returns the object. */
  waitReady(apiVersion: string, kind: string, namespace: string, name: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /**
   * Plays kubelet for the receive adapter Deployment the ApiServerSource reconciler created:
   * runs the adapter with that Deployment's environment (K_SINK, K_SOURCE_CONFIG, ...) and a
   * token of its service account.
   */
  startSourceAdapter(namespace: string, name: string): Promise<AdapterHandle>;
  /** Plays kubelet for `pingsource-mt-adapter`, once the PingSource reconciler has scaled it up. */
  startPingAdapter(): Promise<void>;
  /** Stops a component and starts it again (what it held in memory is gone), waiting until it serves. */
  restart(component: EventingComponent): Promise<void>;
  /** Pids of every process started here that still runs. */
  runningPids(): number[];
  logTail(component: EventingComponent, lines?: number): string;
  stop(): Promise<void>;
}

interface ComponentSpec {
  binary: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Serves once this answers; undefined: judged by the objects it reconciles. */
  socket?: string;
}

export async function startEventing(cp: ControlPlane, options: { timeoutMs?: number } = {}): Promise<Eventing> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const binaries = await eventingBinaries(cp.versions);
  const dir = await mkdtemp(join(tmpdir(), 'build-watcher-eventing-'));
  const removeDir = registerTempDir(dir);
  const logDir = join(process.env['BUILD_WATCHER_HARNESS_LOG_DIR'] ?? join(dir, 'logs'), 'eventing');
  await mkdir(logDir, { recursive: true });

  const servers: Server[] = [];
  const processes = new Map<EventingComponent, ManagedProcess>();
  const specs = new Map<EventingComponent, ComponentSpec>();
  const finished: ManagedProcess[] = [];
  const adapters: AdapterHandle[] = [];
  let proxy: ClusterProxy | undefined;
  let netns: EventingNetns | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const adapter of adapters) await adapter.stop();
    for (const proc of [...processes.values()].reverse()) await proc.stop(5_000);
    await netns?.bridge.stop(2_000);
    await proxy?.close();
    for (const server of servers) server.close();
    removeDir();
  };

  const launch = async (component: EventingComponent): Promise<void> => {
    const spec = specs.get(component);
    if (spec === undefined || netns === undefined) throw new Error(`${component} was never started`);
    const proc = netns.start({ name: component, command: spec.binary, args: spec.args, env: spec.env, logPath: join(logDir, `${component}.log`) });
    processes.set(component, proc);
    finished.push(proc);
    const socket = spec.socket;
    if (socket !== undefined) {
      await waitFor(
        async () => {
          if (!proc.running()) throw new Error(`${component} exited:\n${proc.logTail()}`);
          return answersHttp(socket);
        },
        { what: `${component} to serve`, timeoutMs, onTimeout: () => proc.logTail() },
      );
    }
  };

  try {
    proxy = await startClusterProxy();
    const clusterProxy = proxy;
    netns = await startEventingNetns(dir, logDir, timeoutMs);
    const apiServer = new URL(cp.kubeApiserverUrl);
    servers.push(await forwardUnixSocket(netns.outboundSockets.apiServer, Number(apiServer.port)));
    await clusterProxy.listenUnix(netns.outboundSockets.clusterProxy);
    clusterProxy.route(`broker-ingress.${SYSTEM_NAMESPACE}.svc.cluster.local`, { socketPath: netns.sockets.ingress });
    clusterProxy.route(`broker-filter.${SYSTEM_NAMESPACE}.svc.cluster.local`, { socketPath: netns.sockets.filter });
    clusterProxy.route(`imc-dispatcher.${SYSTEM_NAMESPACE}.svc.cluster.local`, { socketPath: netns.sockets.dispatcher });
    // Every InMemoryChannel's host, `<channel>-kn-channel.<ns>.svc.cluster.local`, is the dispatcher.
    clusterProxy.routeMatching((host) => /^[^.]+-kn-channel\.[^.]+\.svc\.cluster\.local$/.test(host), { socketPath: netns.sockets.dispatcher });

    await installEventing(cp);
    const kubeconfig = join(dir, 'eventing.kubeconfig');
    await writeFile(kubeconfig, await kubeconfigWithServer(cp.adminKubeconfigPath, `https://127.0.0.1:${NETNS_PORTS.apiServer}`), { mode: 0o600 });
    const common = (pod: string, container: string): NodeJS.ProcessEnv => ({
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: process.env['HOME'] ?? '/',
      KUBECONFIG: kubeconfig,
      HTTP_PROXY: `http://127.0.0.1:${NETNS_PORTS.clusterProxy}`,
      SYSTEM_NAMESPACE,
      POD_NAME: pod,
      CONTAINER_NAME: container,
      CONFIG_LOGGING_NAME: 'config-logging',
      CONFIG_OBSERVABILITY_NAME: 'config-observability',
      METRICS_DOMAIN: 'knative.dev/internal/eventing',
      // pprof would take :8008 in every component; port 0 keeps them apart.
      PROFILING_PORT: '0',
    });
    specs.set('dispatcher', {
      binary: binaries.dispatcher,
      args: [],
      // No NAMESPACE: the dispatcher would watch only the channels of that namespace.
      env: { ...common('imc-dispatcher-0', 'dispatcher'), MAX_IDLE_CONNS: '1000', MAX_IDLE_CONNS_PER_HOST: '1000' },
      socket: netns.sockets.dispatcher,
    });
    specs.set('ingress', {
      binary: binaries.ingress,
      args: [],
      env: { ...common('mt-broker-ingress-0', 'ingress'), NAMESPACE: SYSTEM_NAMESPACE, INGRESS_PORT: String(NETNS_PORTS.ingress), INGRESS_PORT_HTTPS: '8444' },
      socket: netns.sockets.ingress,
    });
    specs.set('filter', {
      binary: binaries.filter,
      args: [],
      env: { ...common('mt-broker-filter-0', 'filter'), NAMESPACE: SYSTEM_NAMESPACE, FILTER_PORT: String(NETNS_PORTS.filter), FILTER_PORT_HTTPS: '8445' },
      socket: netns.sockets.filter,
    });
    specs.set('controllers', {
      binary: binaries.controllers,
      args: ['--disable-ha'],
      env: {
        ...common('eventing-controller-0', 'controller'),
        // Images of the Deployments the reconcilers create; the harness runs those itself.
        APISERVER_RA_IMAGE: 'apiserver-receive-adapter.invalid',
        DISPATCHER_IMAGE: 'imc-dispatcher.invalid',
      },
    });
    // The dispatcher first: it needs :8080, which a probe server would otherwise take.
    for (const component of ['dispatcher', 'ingress', 'filter', 'controllers'] as const) await launch(component);
  } catch (err) {
    await stop();
    throw err;
  }
  const clusterProxy = proxy;

  const readObject = async (apiVersion: string, kind: string, namespace: string, name: string): Promise<Record<string, unknown>> =>
    (await cp.admin.json({ path: await cp.pathFor(apiVersion, kind, namespace, name) })) as Record<string, unknown>;

  return {
    proxyUrl: clusterProxy.url,
    hops: clusterProxy.requests,
    serveService: (namespace, name, port) => serveKnativeService(cp, clusterProxy, { namespace, name, port }),
    routeService: (namespace, name, port) => clusterProxy.route(`${name}.${namespace}.svc.cluster.local`, { port }),
    async defaultBroker(namespace, name) {
      const broker = await readObject('eventing.knative.dev/v1', 'Broker', namespace, name);
      const defaults = await readObject('v1', 'ConfigMap', SYSTEM_NAMESPACE, 'config-br-defaults');
      const text = (defaults['data'] as Record<string, string> | undefined)?.['default-br-config'] ?? '';
      type Default = { brokerClass?: string; apiVersion?: string; kind?: string; name?: string; namespace?: string };
      const config = (parse(text) as { clusterDefault?: Default } | null)?.clusterDefault;
      if (config?.kind === undefined || config.name === undefined || config.brokerClass === undefined) {
        throw new Error('config-br-defaults names no cluster default');
      }
      const metadata = broker['metadata'] as { annotations?: Record<string, string> };
      const classKey = 'eventing.knative.dev/broker.class';
      const patch = {
        ...(metadata.annotations?.[classKey] === undefined ? { metadata: { annotations: { [classKey]: config.brokerClass } } } : {}),
        ...((broker['spec'] as { config?: unknown } | undefined)?.config === undefined
          ? { spec: { config: { apiVersion: config.apiVersion, kind: config.kind, name: config.name, namespace: config.namespace } } }
          : {}),
      };
      if (Object.keys(patch).length === 0) return;
      await cp.admin.json({
        method: 'PATCH',
        path: await cp.pathFor('eventing.knative.dev/v1', 'Broker', namespace, name),
        contentType: 'application/merge-patch+json',
        body: patch,
      });
    },
    waitReady: (apiVersion, kind, namespace, name, waitMs = timeoutMs) =>
      waitFor(
        async () => {
          const object = await readObject(apiVersion, kind, namespace, name);
          return readyCondition(object)?.status === 'True' ? object : undefined;
        },
        {
          what: `${kind} ${namespace}/${name} to be Ready`,
          timeoutMs: waitMs,
          onTimeout: () => `controllers:\n${processes.get('controllers')?.logTail(15) ?? ''}`,
        },
      ),
    async startSourceAdapter(namespace, name) {
      const source = await readObject('sources.knative.dev/v1', 'ApiServerSource', namespace, name);
      const deployment = await waitFor(
        async () => {
          const list = (await cp.admin.json({ path: `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments` })) as { items: Deployment[] };
          return list.items.find((d) => d.metadata.ownerReferences?.some((o) => o.kind === 'ApiServerSource' && o.name === name));
        },
        { what: `the receive adapter Deployment of ApiServerSource ${namespace}/${name}`, timeoutMs, onTimeout: () => processes.get('controllers')?.logTail(15) ?? '' },
      );
      const spec = source['spec'] as { mode?: 'Resource' | 'Reference'; resources?: { apiVersion: string; kind: string; selector?: unknown }[] };
      const serviceAccount = deployment.spec.template.spec.serviceAccountName ?? 'default';
      const env = containerEnv(deployment, { namespace, podName: `${deployment.metadata.name}-0` });
      const adapter = await cp.startAdapter({
        sink: env['K_SINK'] ?? '',
        mode: spec.mode ?? 'Reference',
        resources: (spec.resources ?? []).map((r) => ({ apiVersion: r.apiVersion, kind: r.kind })),
        kubeconfigPath: await cp.kubeconfigForServiceAccount(namespace, serviceAccount),
        namespaces: [namespace],
        name,
        namespace,
        env: { ...env, HTTP_PROXY: clusterProxy.url },
      });
      adapters.push(adapter);
      return adapter;
    },
    async startPingAdapter() {
      const deployment = await waitFor(
        async () => {
          const d = (await readObject('apps/v1', 'Deployment', SYSTEM_NAMESPACE, 'pingsource-mt-adapter')) as unknown as Deployment;
          return (d.spec.replicas ?? 0) > 0 ? d : undefined;
        },
        { what: 'the PingSource reconciler to scale pingsource-mt-adapter up', timeoutMs },
      );
      const env = containerEnv(deployment, { namespace: SYSTEM_NAMESPACE, podName: 'pingsource-mt-adapter-0' });
      const base = specs.get('controllers')?.env ?? {};
      specs.set('mtping', {
        binary: binaries.mtping,
        args: [],
        env: { PATH: base['PATH'], HOME: base['HOME'], KUBECONFIG: base['KUBECONFIG'], HTTP_PROXY: base['HTTP_PROXY'], ...env },
      });
      await launch('mtping');
    },
    async restart(component) {
      await processes.get(component)?.stop(5_000);
      const logPath = join(logDir, `${component}.log`);
      const before = (await stat(logPath).catch(() => undefined))?.size ?? 0;
      await launch(component);
      // Once, on a loaded machine, a Trigger applied after this restart was not reconciled within
      // 120 s. A restart is done only when the new process's Trigger reconciler has resynced, so a
      // slow or stuck one fails here, in the restart, with its log.
      if (component === 'controllers') {
        await waitFor(
          async () => ((await readFile(logPath)).subarray(before).toString('utf8').match(TRIGGER_RECONCILED) === null ? undefined : true),
          { what: 'the restarted controllers to reconcile the Triggers', timeoutMs, onTimeout: () => processes.get(component)?.logTail(15) ?? '' },
        );
      }
    },
    runningPids: () => [netns?.bridge, ...finished, ...adapters.flatMap((a) => a.processes())].filter((p) => p?.running()).map((p) => p?.pid ?? 0),
    logTail: (component, lines) => processes.get(component)?.logTail(lines) ?? '',
    stop,
  };
}

/**
 * Eventing's own CRDs, ConfigMaps, Services and Deployments from the module's config/, plus
 * Serving's Service CRD, then what kubelet and kube-controller-manager would write: Endpoints
 * with an address (the API server refuses loopback ones, and nothing dials them: the proxy
 * routes by name) and Deployments marked Available.
 */
async function installEventing(cp: ControlPlane): Promise<void> {
  const eventing = await goModuleDir('knative.dev/eventing', cp.versions.eventing);
  const serving = await goModuleDir('knative.dev/serving', cp.versions.serving);
  const config = (...parts: string[]): string => join(eventing, 'config', ...parts);
  await cp.applyManifests(config('core/100-namespace.yaml'));
  await cp.applyManifests(config('core/resources'));
  await cp.applyManifests(config('channels/in-memory-channel/resources'));
  await cp.applyManifests(join(serving, 'config/core/300-resources/service.yaml'));
  await cp.applyManifests(config('core/configmaps'));
  await cp.applyManifests(config('channels/in-memory-channel/configmaps'));
  const workloads: ManifestObject[] = [];
  for (const file of [
    config('brokers/mt-channel-broker/deployments/broker-ingress.yaml'),
    config('brokers/mt-channel-broker/deployments/broker-filter.yaml'),
    config('channels/in-memory-channel/deployments/dispatcher.yaml'),
    config('channels/in-memory-channel/deployments/dispatcher-service.yaml'),
    config('core/deployments/pingsource-mt-adapter.yaml'),
  ]) {
    workloads.push(...(await loadManifests(file)));
  }
  await cp.applyManifests(workloads);
  for (const [i, name] of ['broker-ingress', 'broker-filter', 'imc-dispatcher'].entries()) {
    await cp.applyManifests([
      {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name, namespace: SYSTEM_NAMESPACE },
        subsets: [{ addresses: [{ ip: `10.244.0.${10 + i}` }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }],
      },
    ]);
  }
  for (const deployment of workloads.filter((o) => o.kind === 'Deployment')) {
    const path = await cp.pathFor('apps/v1', 'Deployment', SYSTEM_NAMESPACE, deployment.metadata.name);
    await cp.admin.json({
      method: 'PATCH',
      path: `${path}/status`,
      contentType: 'application/merge-patch+json',
      body: {
        status: {
          replicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
          updatedReplicas: 1,
          conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', lastUpdateTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
        },
      },
    });
  }
}

interface Deployment {
  metadata: { name: string; ownerReferences?: { kind: string; name: string }[] };
  spec: {
    replicas?: number;
    template: { spec: { serviceAccountName?: string; containers: { env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] }[] } };
  };
}

/** The first container's environment as kubelet resolves it (only the fieldRefs these use). */
function containerEnv(deployment: Deployment, pod: { namespace: string; podName: string }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of deployment.spec.template.spec.containers[0]?.env ?? []) {
    const field = variable.valueFrom?.fieldRef?.fieldPath;
    if (field === 'metadata.namespace') env[variable.name] = pod.namespace;
    else if (field === 'metadata.name') env[variable.name] = pod.podName;
    else if (variable.value !== undefined) env[variable.name] = variable.value;
  }
  return env;
}

function readyCondition(object: Record<string, unknown>): { status?: string } | undefined {
  const status = object['status'] as { conditions?: { type?: string; status?: string }[] } | undefined;
  return status?.conditions?.find((c) => c.type === 'Ready');
}

/** A Unix socket whose connections are spliced to 127.0.0.1:`port`. */
async function forwardUnixSocket(socketPath: string, port: number): Promise<Server> {
  const server = createServer((socket) => {
    const upstream = createConnection({ port, host: '127.0.0.1' });
    socket.pipe(upstream).pipe(socket);
    const close = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    for (const end of [socket, upstream]) {
      end.on('error', close);
      end.on('close', close);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return server;
}

async function kubeconfigWithServer(path: string, server: string): Promise<string> {
  const config = JSON.parse(await readFile(path, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  for (const cluster of config.clusters) cluster.cluster.server = server;
  return `${JSON.stringify(config, null, 2)}\n`;
}
