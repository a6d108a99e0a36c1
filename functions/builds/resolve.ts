/** A Build to analyse as the domain's BuiltImage: the output pinned by digest, the base resolved through its ImageStream, the log lazy. */
import { imageAccess, NO_ACCESS, trustedNamespaces, type CredentialPolicy } from '../access/policy.js';
import type { BuiltImage, ImageReference } from '../domain/built-image.js';
import { isKubeStatus } from '../kube/api.js';
import { streamRepositories } from '../kube/imagestream-repositories.js';
import type { PlanContext } from '../pipeline/source-kind.js';
import { digestProblem, parseImageReference } from '../domain/image-reference.js';
import { invalid } from '../errors.js';
import { isRecord, objectLabel, sourceRef, type KubeObject } from '../kube/object.js';
import type { OpenShiftBuild, ImageSource } from './build.js';
import type { BuildDecision } from './decide.js';

export interface BuildResolverPorts {
  /** Undefined when the log cannot be had. */
  readBuildLog(): Promise<string | undefined>;
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

async function readImageStream(namespace: string, name: string, context: PlanContext): Promise<KubeObject | undefined> {
  try {
    return await context.store.read({ apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', namespace, name }, context.signal);
  } catch (error) {
    // A stream the function may not read (another namespace, no RBAC): no base image, rather than no analysis at all.
    if (isKubeStatus(error, 403)) return undefined;
    throw error;
  }
}

/** The base image, and the stream it was read from (which vouches for nothing by itself). */
async function resolveBase(from: ImageSource, context: PlanContext, ports: BuildResolverPorts): Promise<{ image?: ImageReference; stream?: KubeObject }> {
  if (from.kind === 'DockerImage') return { image: imageReference(from.name, 'spec.strategy.from.name') };
  const at = from.name.indexOf('@');
  const { stream: streamName, tag } = from.kind === 'ImageStreamTag' ? splitImageStreamTag(from.name) : { stream: from.name.slice(0, at), tag: '' };
  if (from.kind === 'ImageStreamImage' && at <= 0) throw invalid(`ImageStreamImage ${JSON.stringify(from.name.slice(0, 80))}: expected name@sha256:digest`);
  const stream = await readImageStream(from.namespace, streamName, context);
  const repository = stream === undefined ? undefined : streamRepositories(stream).own;
  if (stream === undefined || (from.kind === 'ImageStreamImage' && repository === undefined)) {
    ports.warn(`base image ${objectLabel(from)} not found or not readable; base image not sent`);
    return {};
  }
  if (from.kind === 'ImageStreamImage') return { image: imageReference(`${repository ?? ''}${from.name.slice(at)}`, `ImageStreamImage ${from.name}`), stream };
  const current = currentTagReference(stream, tag);
  if (current !== undefined) return { image: imageReference(current, `ImageStream ${streamName} current image`), stream };
  if (repository === undefined) return { stream };
  ports.warn(`${objectLabel(from)} has no current image; sending the base image by tag`);
  return { image: imageReference(`${repository}:${tag}`, `ImageStream ${streamName} repository`), stream };
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
  ports.warn(`${objectLabel(build.object)} reports no output digest; submitting ${build.outputReference} by tag`);
  return parsed;
}

/** Credentials come from access/policy.ts alone: a base image from an ImageStream in neither the Build's nor a shared namespace goes without, with a Warning. */
export async function resolveBuild(build: OpenShiftBuild, decision: Analyze, policy: CredentialPolicy, context: PlanContext, ports: BuildResolverPorts): Promise<BuiltImage> {
  const object = build.object;
  const output = decision.output ? resolveOutput(build, ports) : undefined;
  const base = decision.base && build.from !== undefined ? await resolveBase(build.from, context, ports) : {};
  const known = base.stream === undefined ? [] : [base.stream];
  const from = build.from;
  if (base.image !== undefined && from !== undefined && from.kind !== 'DockerImage' && !trustedNamespaces(policy, object.namespace).has(from.namespace) && (policy.passToken || policy.sourceCredentials !== undefined)) {
    ports.warn(`base image ${objectLabel(from)} is in neither this Build's namespace nor BUILD_WATCHER_SHARED_IMAGE_NAMESPACES; submitted without credentials`);
  }
  return {
    source: sourceRef(object), outcome: build.phase, analysis: 'build', ...(output !== undefined ? { output } : {}),
    ...(build.revision !== undefined ? { revision: build.revision } : {}),
    ...(base.image !== undefined ? { base: base.image } : {}), ...(decision.log ? { buildLog: () => ports.readBuildLog() } : {}),

    outputAccess: output === undefined ? NO_ACCESS : await imageAccess(output, 'output', object, policy, context, known),
    baseAccess: base.image === undefined ? NO_ACCESS : await imageAccess(base.image, 'base', object, policy, context, known),
  };
}
