/**
 * Small helpers over the harness's control plane for the end-to-end tests: a namespace with
 * service accounts and exactly the RBAC the product's manifests grant, and objects whose status
 * is written through the status subresource, as controllers write it.
 */
import type { ChildProcess } from 'node:child_process';
import type { ControlPlane } from '../harness/controlplane.js';
import type { ManifestObject } from '../harness/apply.js';
import type { ThothStub } from '../thoth-stub/thoth-stub.js';

type Json = Record<string, unknown>;

export interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/** What knative/rbac-function.yaml and the knative/optional/ add-ons grant the function. */
export const FUNCTION_RULES: readonly Rule[] = [
  { apiGroups: ['build.openshift.io'], resources: ['builds'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['build.openshift.io'], resources: ['builds/log'], verbs: ['get'] },
  { apiGroups: ['image.openshift.io'], resources: ['imagestreams'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['tekton.dev'], resources: ['taskruns', 'pipelineruns'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: ['shipwright.io'], resources: ['buildruns'], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create'] },
];

/** What the ApiServerSource adapter needs for the run kinds. */
export const ADAPTER_RULES: readonly Rule[] = [
  { apiGroups: ['tekton.dev'], resources: ['taskruns', 'pipelineruns'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['shipwright.io'], resources: ['buildruns'], verbs: ['get', 'list', 'watch'] },
];

export async function prepareNamespace(cp: ControlPlane, namespace: string, accounts: Readonly<Record<string, readonly Rule[]>>): Promise<void> {
  const manifests: ManifestObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }];
  for (const [name, rules] of Object.entries(accounts)) {
    manifests.push(
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } },
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace }, rules: rules.map((rule) => ({ ...rule })) },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name, namespace },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      },
    );
  }
  await cp.applyManifests(manifests);
}

/** Creates the object, then writes its `status` (merge patch); answers the result. */
export async function createWithStatus(cp: ControlPlane, object: ManifestObject, status?: Json): Promise<Json> {
  const [created] = await cp.applyManifests([object]);
  if (created === undefined) throw new Error(`${object.kind} ${object.metadata.name} was not created`);
  if (status === undefined) return created;
  return setStatus(cp, object, status);
}

/** Through /status, as controllers write it; a Build has none (OpenShift keeps status written with the object). */
export async function setStatus(cp: ControlPlane, object: ManifestObject, status: Json): Promise<Json> {
  const path = `${await cp.pathFor(object.apiVersion, object.kind, object.metadata.namespace, object.metadata.name)}${object.kind === 'Build' ? '' : '/status'}`;
  return (await cp.admin.json({ method: 'PATCH', path, body: { status }, contentType: 'application/merge-patch+json' })) as Json;
}

/**
 * What OpenShift does when an image is first pushed to its registry as `<namespace>/<name>`: an
 * ImageStream that says it serves that repository. Only such a stream makes a registry "the
 * cluster's own" to the function, so only then do credentials go with its images.
 */
export async function clusterRegistryStream(cp: ControlPlane, registryHost: string, namespace: string, name: string): Promise<Json> {
  return createWithStatus(cp, { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name, namespace } }, {
    dockerImageRepository: `${registryHost}/${namespace}/${name}`,
  });
}

export async function readObject(cp: ControlPlane, object: ManifestObject): Promise<Json> {
  const path = await cp.pathFor(object.apiVersion, object.kind, object.metadata.namespace, object.metadata.name);
  return (await cp.admin.json({ path })) as Json;
}

export function annotationsOf(object: Json): Record<string, string> {
  const metadata = (object['metadata'] ?? {}) as Json;
  return (metadata['annotations'] ?? {}) as Record<string, string>;
}

export function buildObject(namespace: string, name: string, image: string): ManifestObject {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: image } } },
  };
}

/** A Build the BuildConfig `config` starts: it pushes to the ImageStreamTag `<config>:latest`, the cluster's own registry. */
export function streamTagBuild(namespace: string, name: string, config = 'app'): ManifestObject {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace, labels: { 'openshift.io/build-config.name': config } },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'ImageStreamTag', name: `${config}:latest` } } },
  };
}

/** What OpenShift's build controller writes when a Build completes; without `digest`, a push that reported none. */
export function completeStatus(image: string, digest?: string): Json {
  return {
    phase: 'Complete',
    outputDockerImageReference: image,
    ...(digest !== undefined ? { output: { to: { imageDigest: digest } } } : {}),
    completionTimestamp: '2026-11-20T10:03:41Z',
  };
}

export interface BuildItem {
  readonly metadata: { readonly name: string; readonly resourceVersion: string; readonly annotations?: Record<string, string> };
}

export async function listBuilds(cp: ControlPlane, namespace: string): Promise<readonly BuildItem[]> {
  return ((await cp.admin.json({ path: `/apis/build.openshift.io/v1/namespaces/${namespace}/builds` })) as { readonly items: readonly BuildItem[] }).items;
}

/** A Build as a busy namespace produces it: its log, then the object, then its Complete status. */
export async function finishBuild(cp: ControlPlane, namespace: string, name: string, image: string, digest: string): Promise<Json> {
  cp.setBuildLog(namespace, name, `log of ${name}\n`);
  return createWithStatus(cp, buildObject(namespace, name, image), completeStatus(image, digest));
}

/** Accepted submissions per Build of `namespace` at the Thoth stand-in, by the build log's `namespace/name`. */
export function submissionsPerBuild(thoth: ThothStub, namespace: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const submission of thoth.submissions) {
    const [inNamespace, name] = (submission.body?.build_log?.metadata ?? '').split('/');
    if (inNamespace === namespace && name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** The function's environment in these tests: one namespace, Thoth at `thoth`, a short lease. */
export function functionEnv(kubeconfig: string, thoth: string, namespace: string, leaseSeconds: string): Record<string, string> {
  return {
    KUBECONFIG: kubeconfig,
    THOTH_USER_API_HOST: thoth,
    THOTH_WATCHED_NAMESPACE: namespace,
    THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1',
    BUILD_WATCHER_CLAIM_LEASE_SECONDS: leaseSeconds,
  };
}

/** kill -9 of a function (test/function/run-function.ts), as a node failure ends a pod; resolves once it has exited. */
export async function kill9(fn: { readonly process: ChildProcess; stop(): Promise<void> }): Promise<void> {
  fn.process.kill('SIGKILL');
  await fn.stop();
}
