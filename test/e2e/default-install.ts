/**
 * The default installation, Broker and all, on the local control plane and real Knative
 * Eventing (test/harness/eventing.ts): `oc apply -f knative/` with the shipped files as they are,
 * `kn func deploy` played by starting the function and the Serving stand-in, and the
 * ApiServerSource's receive adapter run from the Deployment its reconciler wrote. The function
 * and the adapter use their own service accounts' tokens, never admin.
 *
 * Order matters only where Knative's reconcilers need it: the Broker is Ready before its
 * Triggers are applied (a Trigger applied earlier waits for its next resync, hours away).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterHandle } from '../harness/adapter.js';
import { loadManifests } from '../harness/apply.js';
import type { ManifestObject } from '../harness/apply.js';
import type { ControlPlane } from '../harness/controlplane.js';
import { startEventSink } from '../harness/event-sink.js';
import type { EventSink } from '../harness/event-sink.js';
import type { Eventing } from '../harness/eventing.js';
import { startFunction, type RunningFunction } from '../function/run-function.js';

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
  /** Also apply knative/optional/sweep/, with this schedule instead of the hourly one. */
  readonly sweepSchedule?: string;
  /** Extra environment for the function. */
  readonly functionEnv?: Readonly<Record<string, string>>;
}

export interface DefaultInstall {
  readonly fn: RunningFunction;
  readonly adapter: AdapterHandle;
  /** The dead-letter receiver: a recorder in place of event_display. */
  readonly deadLetters: EventSink;
  /** Starts the function again on a new port and points the Service at it. */
  restartFunction(): Promise<RunningFunction>;
  /** Stops the function (its Service's address then refuses connections). */
  stopFunction(): Promise<void>;
  stop(): Promise<void>;
}

export async function deployDefaultInstall(cp: ControlPlane, eventing: Eventing, thothUrl: string, options: DefaultInstallOptions = {}): Promise<DefaultInstall> {
  const shipped = (file: string): Promise<ManifestObject[]> => loadManifests(path.join(KNATIVE, file));
  await cp.applyManifests([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }]);
  await cp.applyManifests(await shipped('config.yaml'));
  await cp.applyManifests(await shipped('rbac-function.yaml'));
  await cp.applyManifests(await shipped('rbac-adapter.yaml'));

  const deadLetters = await startEventSink();
  await cp.applyManifests(await shipped('dead-letters.yaml'));
  await eventing.serveService(NAMESPACE, 'build-watcher-dead-letters', Number(new URL(deadLetters.url).port));

  const functionEnv = {
    KUBECONFIG: await cp.kubeconfigForServiceAccount(NAMESPACE, 'build-watcher-function'),
    THOTH_USER_API_HOST: thothUrl,
    THOTH_WATCHED_NAMESPACE: NAMESPACE,
    // The loopback registry speaks plain HTTP; Thoth is told not to verify TLS for it.
    THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1',
    // knative/config.yaml's value, as the deployed function reads it.
    THOTH_BUILD_WATCHER_WORKERS: '4',
    ...options.functionEnv,
  };
  let fn: RunningFunction | undefined = await startFunction({ env: functionEnv });
  const serve = async (running: RunningFunction): Promise<void> => {
    await eventing.serveService(NAMESPACE, 'build-watcher', Number(new URL(running.url).port));
  };
  try {
    await serve(fn);
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
    const triggers = [...(await shipped('triggers-builds.yaml')), ...(await shipped('trigger-sweep.yaml'))];
    if (options.sweepSchedule !== undefined) {
      const pingSource = await shipped('optional/sweep/pingsource.yaml');
      for (const object of pingSource) (object['spec'] as { schedule: string }).schedule = options.sweepSchedule;
      triggers.push(...(await shipped('optional/sweep/trigger.yaml')));
      await cp.applyManifests(pingSource);
    }
    await cp.applyManifests(triggers);
    for (const trigger of triggers) await eventing.waitReady('eventing.knative.dev/v1', 'Trigger', NAMESPACE, trigger.metadata.name);
    if (options.sweepSchedule !== undefined) {
      await eventing.waitReady('sources.knative.dev/v1', 'PingSource', NAMESPACE, 'build-watcher-sweep');
      await eventing.startPingAdapter();
    }
    const [source] = await shipped('source-builds.yaml');
    await cp.applyManifests(await shipped('source-builds.yaml'));
    const adapter = await eventing.startSourceAdapter(NAMESPACE, source?.metadata.name ?? 'build-watcher-builds');
    return {
      get fn(): RunningFunction {
        if (fn === undefined) throw new Error('the function is stopped');
        return fn;
      },
      adapter,
      deadLetters,
      async restartFunction() {
        await fn?.stop();
        fn = await startFunction({ env: functionEnv });
        await serve(fn);
        return fn;
      },
      async stopFunction() {
        await fn?.stop();
      },
      async stop() {
        await adapter.stop();
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
