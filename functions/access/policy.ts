/**
 * The one credential decision, for every source kind: which credentials an image gets, and
 * whether the function may fetch it (to copy it to the push registry); token-file.ts reads them.
 *
 * An image is on the cluster's registry only when an ImageStream in the image's namespace says
 * it serves the repository (`status.dockerImageRepository` or `publicDockerImageRepository`,
 * written by OpenShift, never by users), and that namespace is the object's own or listed in
 * BUILD_WATCHER_SHARED_IMAGE_NAMESPACES. No Build or run field decides it alone: OpenShift keeps
 * user-written Build status, so its author chooses those fields.
 * - The service-account token and THOTH_SRC_REGISTRY_* go only with such images.
 * - THOTH_DST_REGISTRY_* go only with output images in a repository the object's own namespace owns, by a rule the
 *   operator set (THOTH_DST_REGISTRY_REPOSITORIES, and the push registry's mirror naming: namespace-repositories.ts).
 *   An output on those registries outside its namespace's repositories is refused: neither fetched nor submitted,
 *   with or without credentials, since those hosts hold other tenants' private images and Thoth or the registry may
 *   trust where the request comes from. With no rule, no output there gets them.
 * - The function connects only to the cluster registry (as above), the push registry and the
 *   hosts in BUILD_WATCHER_PULL_REGISTRIES. Any other image is submitted as a reference, never
 *   fetched, so no author can point the function at a host of their choosing.
 */
import type { CredentialSource, ImageAccess, ImageReference, RegistryCredentials } from '../domain/built-image.js';
import { ownsImage, type RepositoryPattern } from './namespace-repositories.js';
import { streamRepositories } from '../kube/imagestream-repositories.js';
import type { KubeObject } from '../kube/object.js';
import type { ObjectStore } from '../kube/store.js';
import type { Logger } from '../observability/logger.js';

export interface CredentialPolicy {
  /** THOTH_PASS_TOKEN: the service-account token, read at each use. */
  readonly passToken: boolean;
  readonly tokenFile: string;
  /** THOTH_SRC_REGISTRY_*: only allowed with THOTH_PUSH_REGISTRY, for copying out. */
  readonly sourceCredentials?: RegistryCredentials;
  readonly sourceRegistryVerifyTls: boolean;
  /** BUILD_WATCHER_SHARED_IMAGE_NAMESPACES: whose images every object may be given credentials for. */
  readonly sharedNamespaces: readonly string[];
  /** THOTH_DST_REGISTRY_* without a push registry: the output image's credentials. */
  readonly destinationCredentials?: RegistryCredentials;
  /** Each namespace's repositories on the hosts below (THOTH_DST_REGISTRY_REPOSITORIES, the push registry's mirror). */
  readonly destinationRepositories: readonly RepositoryPattern[];
  /** Lowercase hosts THOTH_DST_REGISTRY_* belong to: every pattern's, and the push registry's. */
  readonly destinationHosts: readonly string[];
  /** Hosts the function may fetch from besides the cluster registry: the push registry, BUILD_WATCHER_PULL_REGISTRIES. */
  readonly fetchableHosts: readonly string[];
}

/** All the decision reads: ImageStreams, and a log to say why one could not be. A PlanContext is one. */
export interface StreamReader {
  readonly store: Pick<ObjectStore, 'read'>;
  readonly log: Pick<Logger, 'debug'>;
  readonly signal?: AbortSignal;
}

/** No credentials, TLS verified, not ours to fetch: what an unknown image gets. */
export const NO_ACCESS: ImageAccess = { credentials: { kind: 'none' }, verifyTls: true, fetchable: false };

/** Said in the Warning and the refusal reply: never the image or its host, which the author chose. */
export const OUTSIDE_NAMESPACE = 'output image is on a registry whose credentials the function holds, outside this namespace\'s repositories (THOTH_DST_REGISTRY_REPOSITORIES or the push registry\'s mirror naming): neither copied nor submitted';

/** The namespaces whose ImageStreams vouch for images of an object in `namespace`. */
export function trustedNamespaces(policy: CredentialPolicy, namespace: string): ReadonlySet<string> {
  return new Set([namespace, ...policy.sharedNamespaces]);
}

/**
 * Whether a trusted namespace's ImageStream serves the image's repository (`known`: streams read
 * already). Unreadable or absent: false, as no token beats a token sent to a stranger.
 */
async function servedByTrustedStream(image: ImageReference, owner: KubeObject, policy: CredentialPolicy, reader: StreamReader, known: readonly KubeObject[]): Promise<boolean> {
  const [namespace, name, ...rest] = image.repository.split('/');
  if (namespace === undefined || name === undefined || rest.length > 0 || !trustedNamespaces(policy, owner.namespace).has(namespace)) return false;
  const repository = `${image.registry}/${image.repository}`;
  let stream = known.find((candidate) => candidate.namespace === namespace && candidate.name === name);
  if (stream === undefined) {
    try {
      stream = await reader.store.read({ apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', namespace, name }, reader.signal);
    } catch (error) {
      reader.log.debug({ image: repository }, `cannot read ImageStream ${namespace}/${name} (${error instanceof Error ? error.message : 'unknown error'}); no credentials sent`);
      return false;
    }
  }
  if (stream === undefined) return false;
  const served = streamRepositories(stream);
  return served.own === repository || served.route === repository;
}

/** The one decision: credentials, TLS and fetching for one image of `owner`. */
export async function imageAccess(image: ImageReference, role: 'output' | 'base', owner: KubeObject, policy: CredentialPolicy,
  reader: StreamReader, known: readonly KubeObject[] = []): Promise<ImageAccess> {
  // Only worth an ImageStream read when being the cluster registry would change something.
  const matters = policy.passToken || policy.sourceCredentials !== undefined || policy.fetchableHosts.length > 0 || !policy.sourceRegistryVerifyTls;
  if (matters && (await servedByTrustedStream(image, owner, policy, reader, known))) {
    const credentials: CredentialSource = policy.passToken
      ? { kind: 'service-account-token', tokenPath: policy.tokenFile }
      : policy.sourceCredentials !== undefined
        ? { kind: 'basic', credentials: policy.sourceCredentials }
        : { kind: 'none' };
    return { credentials, verifyTls: policy.sourceRegistryVerifyTls, fetchable: true };
  }
  const fetchable = policy.fetchableHosts.includes(image.registry);
  // A base image never gets them: the author names it, and Thoth only reads it.
  if (role === 'base' || !policy.destinationHosts.includes(image.registry.toLowerCase())) return { ...NO_ACCESS, fetchable };
  if (!ownsImage(policy.destinationRepositories, owner.namespace, image)) return { ...NO_ACCESS, refused: OUTSIDE_NAMESPACE };
  const credentials = policy.destinationCredentials;
  return { credentials: credentials !== undefined ? { kind: 'basic', credentials } : { kind: 'none' }, verifyTls: true, fetchable };
}
