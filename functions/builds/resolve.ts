/**
 * Turns a Build that is to be analysed into the domain's BuiltImage: the output pinned by
 * digest, the base image resolved through its ImageStream, and the log fetched lazily.
 */
import type { BuiltImage, CredentialSource, ImageReference } from '../domain/built-image.js';
import { clusterRegistryCredentials, type CredentialPolicy } from '../pipeline/credentials.js';
import { digestProblem, parseImageReference } from '../domain/image-reference.js';
import { invalid } from '../errors.js';
import { isRecord, sourceRef, type KubeObject } from '../kube/object.js';
import type { OpenShiftBuild, ImageSource } from './build.js';
import type { BuildDecision } from './decide.js';

export interface BuildResolverPorts {
  readImageStream(namespace: string, name: string): Promise<KubeObject | undefined>;
  /** Undefined when the log cannot be had. */
  readBuildLog(build: KubeObject): Promise<string | undefined>;
  warn(message: string): void;
}


type Analyze = Extract<BuildDecision, { action: 'analyze' }>;

/** A reference the Build itself reports: a bad one is bad input, said with the field name. */
function imageReference(text: string, where: string): ImageReference {
  const parsed = parseImageReference(text);
  if (!parsed.ok) throw invalid(`${where}: ${parsed.why}`);
  return parsed.reference;
}

function splitImageStreamTag(name: string): { stream: string; tag: string } {
  const colon = name.lastIndexOf(':');
  if (colon <= 0) return { stream: name, tag: 'latest' };
  return { stream: name.slice(0, colon), tag: name.slice(colon + 1) };
}

/** `status.tags[tag].items[0].dockerImageReference`: the current image, pinned by digest. */
function currentTagReference(stream: KubeObject, tag: string): string | undefined {
  const status = stream.raw['status'];
  if (!isRecord(status) || !Array.isArray(status['tags'])) return undefined;
  for (const entry of status['tags'] as unknown[]) {
    if (!isRecord(entry) || entry['tag'] !== tag || !Array.isArray(entry['items'])) continue;
    const current: unknown = entry['items'][0];
    if (isRecord(current) && typeof current['dockerImageReference'] === 'string') return current['dockerImageReference'];
  }
  return undefined;
}

function repositoryOf(stream: KubeObject): string | undefined {
  const status = stream.raw['status'];
  if (!isRecord(status)) return undefined;
  const repository = status['dockerImageRepository'];
  return typeof repository === 'string' && repository !== '' ? repository : undefined;
}

/**
 * Hosts known to be the cluster's own registry: the THOTH_PASS_TOKEN token is good there and
 * must go nowhere else.
 */
type ClusterRegistries = Set<string>;

function registryHost(repository: string): string {
  return repository.split('/')[0] ?? '';
}

async function resolveBase(from: ImageSource, ports: BuildResolverPorts, cluster: ClusterRegistries): Promise<ImageReference | undefined> {
  if (from.kind === 'DockerImage') return imageReference(from.name, 'spec.strategy.from.name');
  if (from.kind === 'ImageStreamTag') {
    const { stream: streamName, tag } = splitImageStreamTag(from.name);
    const stream = await ports.readImageStream(from.namespace, streamName);
    if (stream === undefined) {
      ports.warn(`base image ImageStreamTag ${from.namespace}/${from.name} not found or not readable; base image not sent`);
      return undefined;
    }
    const current = currentTagReference(stream, tag);
    const repository = repositoryOf(stream);
    if (repository !== undefined) cluster.add(registryHost(repository));
    if (current !== undefined) return imageReference(current, `ImageStream ${streamName} current image`);
    if (repository === undefined) return undefined;
    ports.warn(`ImageStreamTag ${from.namespace}/${from.name} has no current image; sending the base image by tag`);
    return imageReference(`${repository}:${tag}`, `ImageStream ${streamName} repository`);
  }
  const at = from.name.indexOf('@');
  if (at <= 0) throw invalid(`ImageStreamImage ${JSON.stringify(from.name.slice(0, 80))}: expected name@sha256:digest`);
  const stream = await ports.readImageStream(from.namespace, from.name.slice(0, at));
  const repository = stream === undefined ? undefined : repositoryOf(stream);
  if (repository === undefined) {
    ports.warn(`base image ImageStreamImage ${from.namespace}/${from.name} cannot be resolved; base image not sent`);
    return undefined;
  }
  cluster.add(registryHost(repository));
  return imageReference(`${repository}${from.name.slice(at)}`, `ImageStreamImage ${from.name}`);
}

function resolveOutput(build: OpenShiftBuild, ports: BuildResolverPorts): ImageReference | undefined {
  if (build.outputReference === undefined) return undefined;
  const parsed = imageReference(build.outputReference, 'status.outputDockerImageReference');
  if (build.outputDigest !== undefined) {
    const problem = digestProblem(build.outputDigest);
    if (problem !== undefined) throw invalid(`status.output.to.imageDigest: ${problem}`);
    return { ...parsed, digest: build.outputDigest };
  }
  if (parsed.digest !== undefined) return parsed;
  ports.warn(`Build ${build.object.namespace}/${build.object.name} reports no output digest; submitting ${build.outputReference} by tag`);
  return parsed;
}

export async function resolveBuild(
  build: OpenShiftBuild,
  decision: Analyze,
  policy: CredentialPolicy,
  ports: BuildResolverPorts,
): Promise<BuiltImage> {
  const output = decision.output ? resolveOutput(build, ports) : undefined;
  const cluster: ClusterRegistries = new Set();
  if (build.outputKind === 'ImageStreamTag' && build.outputReference !== undefined) {
    cluster.add(imageReference(build.outputReference, 'status.outputDockerImageReference').registry);
  }
  const base = decision.base && build.from !== undefined ? await resolveBase(build.from, ports, cluster) : undefined;
  // The Build's own namespace and the one its strategy pulls from: credentials that can pull
  // any tenant's image must not get Thoth an image of a namespace the Build had no business in.
  const namespaces = new Set([build.object.namespace, ...(build.from !== undefined && build.from.kind !== 'DockerImage' ? [build.from.namespace] : [])]);
  const onClusterRegistry = (image: ImageReference | undefined) =>
    image !== undefined && cluster.has(image.registry) && namespaces.has(image.repository.split('/')[0] ?? '');
  const credentialsFor = (image: ImageReference | undefined): CredentialSource => clusterRegistryCredentials(policy, onClusterRegistry(image));
  const object = build.object;
  return {
    source: sourceRef(object),
    outcome: build.phase,
    analysis: 'build',
    ...(output !== undefined ? { output } : {}),
    ...(base !== undefined ? { base } : {}),
    ...(decision.log ? { buildLog: () => ports.readBuildLog(object) } : {}),
    outputCredentials: credentialsFor(output),
    baseCredentials: credentialsFor(base),
    outputVerifyTls: onClusterRegistry(output) ? policy.sourceRegistryVerifyTls : true,
    baseVerifyTls: onClusterRegistry(base) ? policy.sourceRegistryVerifyTls : true,
  };
}
