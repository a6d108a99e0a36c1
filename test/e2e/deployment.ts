/**
 * The default installation on the local control plane: knative/'s namespace, service accounts
 * and RBAC, then the function and the Builds ApiServerSource adapter, each with its own
 * service account's token (never admin), as `oc apply -f knative/` and `kn func deploy` would.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterHandle } from '../harness/adapter.js';
import type { ControlPlane } from '../harness/controlplane.js';
import { startFunction, type RunningFunction } from '../function/run-function.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The namespace every manifest in knative/ names. */
export const NAMESPACE = 'build-watcher';

export interface Deployment {
  readonly fn: RunningFunction;
  readonly adapter: AdapterHandle;
}

export async function deployBuildWatcher(cp: ControlPlane, thothUrl: string): Promise<Deployment> {
  await cp.applyManifests([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }]);
  await cp.applyManifests(path.join(ROOT, 'knative/rbac-function.yaml'));
  await cp.applyManifests(path.join(ROOT, 'knative/rbac-adapter.yaml'));
  const fn = await startFunction({
    env: {
      KUBECONFIG: await cp.kubeconfigForServiceAccount(NAMESPACE, 'build-watcher-function'),
      THOTH_USER_API_HOST: thothUrl,
      THOTH_WATCHED_NAMESPACE: NAMESPACE,
      // The loopback registry speaks plain HTTP; Thoth is told not to verify TLS for it.
      THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1',
    },
  });
  try {
    const adapter = await cp.startAdapter({
      sink: fn.url,
      resources: [{ apiVersion: 'build.openshift.io/v1', kind: 'Build' }],
      mode: 'Resource',
      kubeconfigPath: await cp.kubeconfigForServiceAccount(NAMESPACE, 'build-watcher-adapter'),
      namespaces: [NAMESPACE],
      name: 'builds',
      namespace: NAMESPACE,
    });
    return { fn, adapter };
  } catch (error) {
    await fn.stop();
    throw error;
  }
}
