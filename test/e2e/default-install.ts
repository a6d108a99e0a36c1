/**
 * The default installation, Broker and all, on the local control plane and real Knative
 * Eventing (test/harness/eventing.ts): `oc apply -f knative/` with the shipped files as they are,
 * `kn func deploy` played by starting the function and the Serving stand-in, and the
 * ApiServerSource's receive adapter run from the Deployment its reconciler wrote. The function
 * and the adapter use their own service accounts' tokens, never admin.
 *
 * The Broker is applied and Ready before its Triggers, and the webhook's defaulting (a stand-in,
 * see eventing.ts) is applied to it right after it is created, before anything reads it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterHandle } from '../harness/adapter.js';
import { loadManifests } from '../harness/apply.js';
import type { ManifestObject } from '../harness/apply.js';
import type { ControlPlane } from '../harness/controlplane.js';
import { startEventSink } from '../harness/event-sink.js';
import type { EventSink } from '../harness/event-sink.js';
import type { Eventing } from '../harness/eventing.js';
import { startFunction } from '../function/run-function.js';
import type { RunningFunction as BareFunction } from '../function/run-function.js';

/** The function's process, as the Service's one revision (its pid: the benchmark reads its RSS). */
export type RunningFunction = Awaited<ReturnType<typeof startFunction>>;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const KNATIVE = path.join(ROOT, 'knative');

export const NAMESPACE = 'build-watcher';
export const BROKER = 'build-watcher';
/** The Broker's address, as its status says and the adapter's K_SINK carries. */
export const BROKER_URL = `http://broker-ingress.knative-eventing.svc.cluster.local/${NAMESPACE}/${BROKER}`;

export interface DefaultInstallOptions {
  /**
   * Changes to fields of the shipped knative/broker.yaml, e.g. a shorter backoff; the test that
   * passes them says so. Everything else is applied as shipped.
   */
  readonly brokerDelivery?: Readonly<Record<string, unknown>>;
  /** Extra environment for the function. */
  readonly functionEnv?: Readonly<Record<string, string>>;
  /**
   * `broker` (default): knative/ as shipped. `direct`: the direct-sink variant as the README
   * installs it: the rbac and config files, then knative/variants/direct-sink/.
   */
  readonly sink?: 'broker' | 'direct';
  /**
   * Run the function as deployed, as a benchmark measures it: compiled (build/functions/index.js,
   * `npm run build` first) and reading its service account as in a pod, without a kubeconfig.
   */
  readonly deployedFunction?: boolean;
}

export interface DefaultInstall {
  readonly fn: RunningFunction;
  /** The function's service-account token: it tells the function's API calls apart (ControlPlane.apiCallsWith). */
  readonly functionToken: string;
  readonly adapter: AdapterHandle;
  /** The dead-letter receiver: a recorder in place of event_display. */
  readonly deadLetters: EventSink;
  /**
   * Applies knative/optional/sweep/ (the PingSource and its Trigger) with `schedule` instead of
   * the hourly one, and runs the PingSource adapter.
   */
  enableScheduledSweep(schedule: string): Promise<void>;
  /** Starts the function again on a new port and points the Service at it. */
  restartFunction(): Promise<RunningFunction>;
  /**
   * Another process of the same revision (the function's environment, plus `env`), not routed:
   * a replica for a test to put behind an address of its own. Stopped with the install.
   */
  startReplica(env: Readonly<Record<string, string>>): Promise<RunningFunction>;
  /** Stops the function (its Service's address then refuses connections). */
  stopFunction(): Promise<void>;
  stop(): Promise<void>;
}

export async function deployDefaultInstall(cp: ControlPlane, eventing: Eventing, thothUrl: string, options: DefaultInstallOptions = {}): Promise<DefaultInstall> {
  await cp.applyManifests([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }]);
  await cp.applyManifests(await shipped('config.yaml'));
  await cp.applyManifests(await shipped('rbac-function.yaml'));
  await cp.applyManifests(await shipped('rbac-adapter.yaml'));

  const deadLetters = await startEventSink();
  if (options.sink !== 'direct') {
    await cp.applyManifests(await shipped('dead-letters.yaml'));
    await eventing.serveService(NAMESPACE, 'build-watcher-dead-letters', Number(new URL(deadLetters.url).port));
  }

  const deployed = options.deployedFunction === true;
  const account = deployed ? await cp.serviceAccountDirectory(NAMESPACE, 'build-watcher-function') : await cp.kubeconfigForServiceAccount(NAMESPACE, 'build-watcher-function');
  const functionToken = deployed
    ? await readFile(path.join(account, 'token'), 'utf8')
    : ((JSON.parse(await readFile(account, 'utf8')) as { users: { user: { token: string } }[] }).users[0]?.user.token ?? '');
  const functionEnv = {
    ...(deployed ? cp.inClusterEnv : { KUBECONFIG: account }),
    THOTH_USER_API_HOST: thothUrl,
    THOTH_WATCHED_NAMESPACE: NAMESPACE,
    // The loopback registry speaks plain HTTP; Thoth is told not to verify TLS for it.
    THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1',
    // knative/config.yaml's value, as the deployed function reads it.
    THOTH_BUILD_WATCHER_WORKERS: '4',
    ...options.functionEnv,
  };
  const start = (env: Readonly<Record<string, string>> = {}): Promise<RunningFunction> =>
    startFunction({ env: { ...functionEnv, ...env }, ...(deployed ? { compiled: true, pod: { serviceAccount: account } } : {}) });
  let fn: RunningFunction | undefined = await start();
  const replicas: RunningFunction[] = [];
  const serve = async (running: BareFunction): Promise<void> => {
    await eventing.serveService(NAMESPACE, 'build-watcher', Number(new URL(running.url).port));
  };
  try {
    await serve(fn);
    const [source] = options.sink === 'direct' ? await installDirectSink(cp) : await installBroker(cp, eventing, options);
    const adapter = await eventing.startSourceAdapter(NAMESPACE, source?.metadata.name ?? 'build-watcher-builds');
    return {
      get fn(): RunningFunction {
        if (fn === undefined) throw new Error('the function is stopped');
        return fn;
      },
      functionToken,
      adapter,
      deadLetters,
      async enableScheduledSweep(schedule) {
        const pingSources = await shipped('optional/sweep/pingsource.yaml');
        for (const object of pingSources) (object['spec'] as { schedule: string }).schedule = schedule;
        await applyTriggers(cp, eventing, await shipped('optional/sweep/trigger.yaml'));
        await cp.applyManifests(pingSources);
        for (const object of pingSources) await eventing.waitReady('sources.knative.dev/v1', 'PingSource', NAMESPACE, object.metadata.name);
        await eventing.startPingAdapter();
      },
      async restartFunction() {
        await fn?.stop();
        fn = await start();
        await serve(fn);
        return fn;
      },
      async startReplica(env) {
        const replica = await start(env);
        replicas.push(replica);
        return replica;
      },
      async stopFunction() {
        await fn?.stop();
      },
      async stop() {
        await adapter.stop();
        for (const replica of replicas) await replica.stop();
        await fn?.stop();
        await deadLetters.close();
      },
    };
  } catch (error) {
    await fn.stop();
    await deadLetters.close();
    fn = undefined;
    throw error;
  }
}

const shipped = (file: string): Promise<ManifestObject[]> => loadManifests(path.join(KNATIVE, file));

/** knative/'s Broker (with `brokerDelivery` changes), Triggers and Builds source; answers the source. */
async function installBroker(cp: ControlPlane, eventing: Eventing, options: DefaultInstallOptions): Promise<ManifestObject[]> {
  const broker = await shipped('broker.yaml');
  if (options.brokerDelivery !== undefined) {
    for (const object of broker) {
      const spec = object['spec'] as { delivery: Record<string, unknown> };
      spec.delivery = { ...spec.delivery, ...options.brokerDelivery };
    }
  }
  await cp.applyManifests(broker);
  await eventing.defaultBroker(NAMESPACE, BROKER);
  await eventing.waitReady('eventing.knative.dev/v1', 'Broker', NAMESPACE, BROKER);
  await applyTriggers(cp, eventing, [...(await shipped('triggers-builds.yaml')), ...(await shipped('trigger-sweep.yaml'))]);
  const source = await shipped('source-builds.yaml');
  await cp.applyManifests(source);
  return source;
}

/** knative/variants/direct-sink/: the Builds source and the sweep PingSource, both sinking to the function. */
async function installDirectSink(cp: ControlPlane): Promise<ManifestObject[]> {
  const source = await shipped('variants/direct-sink/source-builds.yaml');
  await cp.applyManifests(source);
  await cp.applyManifests(await shipped('variants/direct-sink/pingsource-sweep.yaml'));
  return source;
}

async function applyTriggers(cp: ControlPlane, eventing: Eventing, triggers: readonly ManifestObject[]): Promise<void> {
  await cp.applyManifests(triggers);
  for (const trigger of triggers) await eventing.waitReady('eventing.knative.dev/v1', 'Trigger', NAMESPACE, trigger.metadata.name);
}
