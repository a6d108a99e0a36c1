/**
 * STAND-IN for Knative Serving, the one part of the default install that does not run here (like
 * the builds/log stand-in of the API front). Serving's real `Service` CRD is installed; this
 * writes what Serving's controller would write into a Service's status once its revision is
 * ready, a cluster-local address, and routes that address's host through the cluster proxy to a
 * process on this machine. Everything that resolves the Service (Trigger subscribers, dead-letter
 * sinks, source sinks) does so through Knative's own resolver, reading this status.
 */
import type { ControlPlane } from './controlplane.js';
import type { ClusterProxy } from './cluster-proxy.js';
import { KubeRequestError } from './kube-http.js';

export interface ServedService {
  namespace: string;
  name: string;
  /** The loopback port of the process that plays the Service's revision. */
  port: number;
}

/** `http://<name>.<namespace>.svc.cluster.local`, as Serving writes for a cluster-local Service. */
export function clusterLocalUrl(namespace: string, name: string): string {
  return `http://${name}.${namespace}.svc.cluster.local`;
}

/**
 * Makes the Service `namespace/name` answer on `port`: creates the Service if no manifest did
 * (as `kn func deploy` does for the function), writes a Ready status with its address, and routes
 * its host. Calling it again with another port moves the route, as a new revision would.
 */
export async function serveKnativeService(cp: ControlPlane, proxy: ClusterProxy, service: ServedService): Promise<string> {
  const { namespace, name, port } = service;
  const path = await cp.pathFor('serving.knative.dev/v1', 'Service', namespace, name);
  let current: unknown;
  try {
    current = await cp.admin.json({ path });
  } catch (err) {
    if (!(err instanceof KubeRequestError) || err.status !== 404) throw err;
    const [created] = await cp.applyManifests([
      {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Service',
        metadata: { name, namespace },
        spec: { template: { spec: { containers: [{ image: `stand-in.invalid/${name}` }] } } },
      },
    ]);
    current = created;
  }
  const generation = generationOf(current);
  const url = clusterLocalUrl(namespace, name);
  const now = new Date().toISOString();
  const ready = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
  await cp.admin.json({
    method: 'PATCH',
    path: `${path}/status`,
    contentType: 'application/merge-patch+json',
    body: {
      status: {
        observedGeneration: generation,
        conditions: [ready('ConfigurationsReady'), ready('Ready'), ready('RoutesReady')],
        url,
        address: { url },
        latestCreatedRevisionName: `${name}-00001`,
        latestReadyRevisionName: `${name}-00001`,
      },
    },
  });
  for (const host of [`${name}.${namespace}.svc.cluster.local`, `${name}.${namespace}.svc`, `${name}.${namespace}`]) {
    proxy.route(host, { port });
  }
  return url;
}

function generationOf(object: unknown): number {
  if (object !== null && typeof object === 'object' && 'metadata' in object) {
    const metadata = object.metadata;
    if (metadata !== null && typeof metadata === 'object' && 'generation' in metadata && typeof metadata.generation === 'number') {
      return metadata.generation;
    }
  }
  return 1;
}
