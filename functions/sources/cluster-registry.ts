/**
 * Whether an image lives on the cluster's own registry, the only place THOTH_PASS_TOKEN's token
 * may be sent. The cluster says so itself: an ImageStream's `status.dockerImageRepository` (and
 * `publicDockerImageRepository`, the registry's route) is written by OpenShift, never by users,
 * and pushing `<registry>/<namespace>/<name>` to that registry creates ImageStream
 * `<namespace>/<name>` with exactly that repository.
 */
import type { ImageReference } from '../domain/built-image.js';
import { parseImageReference } from '../domain/image-reference.js';
import { isRecord, type KubeObject } from '../kube/object.js';
import type { PlanContext } from '../pipeline/source-kind.js';

/** `host[:port]/repository` of every repository the stream says it is served at. */
export function streamRepositories(stream: KubeObject): Set<string> {
  const status = stream.raw['status'];
  const repositories = new Set<string>();
  if (!isRecord(status)) return repositories;
  for (const field of ['dockerImageRepository', 'publicDockerImageRepository']) {
    const value = status[field];
    if (typeof value !== 'string' || value === '') continue;
    const parsed = parseImageReference(value);
    if (parsed.ok) repositories.add(`${parsed.reference.registry}/${parsed.reference.repository}`);
  }
  return repositories;
}

/** The registry hosts of a stream's own repositories. */
export function streamRegistryHosts(stream: KubeObject): Set<string> {
  return new Set([...streamRepositories(stream)].map((repository) => repository.slice(0, repository.indexOf('/'))));
}

/**
 * Reads ImageStream `<namespace>/<name>` for an image at `<registry>/<namespace>/<name>` and
 * answers whether the stream is served from exactly that repository. Unreadable or absent
 * streams answer false: no token is better than a token sent to a stranger.
 */
export async function isOnClusterRegistry(image: ImageReference, context: PlanContext): Promise<boolean> {
  const parts = image.repository.split('/');
  const [namespace, name] = parts;
  if (parts.length !== 2 || namespace === undefined || name === undefined) return false;
  let stream: KubeObject | undefined;
  try {
    stream = await context.store.read({ apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', namespace, name }, context.signal);
  } catch (error) {
    context.log.debug(
      { image: `${image.registry}/${image.repository}` },
      `cannot read ImageStream ${namespace}/${name} to tell whether the image is on the cluster registry (${error instanceof Error ? error.message : 'unknown error'}); no token sent`,
    );
    return false;
  }
  return stream !== undefined && streamRepositories(stream).has(`${image.registry}/${image.repository}`);
}
