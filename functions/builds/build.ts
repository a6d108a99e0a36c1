/**
 * The OpenShift Build (build.openshift.io/v1) fields the function uses, validated once. Only what decides and resolves is kept;
 * unknown fields are ignored, absurd ones refused.
 */
import { invalid } from '../errors.js';
import { isRecord, type KubeObject } from '../kube/object.js';

export type BuildPhase = 'New' | 'Pending' | 'Running' | 'Complete' | 'Failed' | 'Error' | 'Cancelled';
const PHASES: readonly string[] = ['New', 'Pending', 'Running', 'Complete', 'Failed', 'Error', 'Cancelled'];

export type ImageSourceKind = 'DockerImage' | 'ImageStreamTag' | 'ImageStreamImage';
const SOURCE_KINDS: readonly string[] = ['DockerImage', 'ImageStreamTag', 'ImageStreamImage'];

/** An ObjectReference to an image, as Build strategies and outputs use them. */
export interface ImageSource { readonly kind: ImageSourceKind; readonly name: string; readonly namespace: string }

export interface OpenShiftBuild {
  readonly object: KubeObject;
  /** Empty while the build has not reported a phase yet. */
  readonly phase: BuildPhase | '';
  readonly strategy: string;
  /** The strategy's `from`: the base image. */
  readonly from?: ImageSource;
  /** `spec.output.to.kind`: ImageStreamTag means the cluster's own registry. */
  readonly outputKind?: string;
  /** `status.outputDockerImageReference`, e.g. `registry:5000/ns/app:latest`. */
  readonly outputReference?: string;
  /** `status.output.to.imageDigest`; may be empty even after a successful push. */
  readonly outputDigest?: string;
  /** `spec.revision.git.commit`: the commit built, once the build has fetched its source. */
  readonly revision?: string;
}

const MAX_REFERENCE = 1024;

function optionalString(record: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = record[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw invalid(`${where}.${key}: expected a string, got a ${typeof value}`);
  if (value.length > MAX_REFERENCE) throw invalid(`${where}.${key}: ${value.length} characters is too long`);
  return value;
}

function child(record: Record<string, unknown>, key: string, where: string): Record<string, unknown> {
  const value = record[key];
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw invalid(`${where}.${key}: expected an object`);
  return value;
}

const STRATEGY_FIELDS = ['sourceStrategy', 'dockerStrategy', 'customStrategy'] as const;

function imageSource(strategy: Record<string, unknown>, namespace: string): ImageSource | undefined {
  for (const key of STRATEGY_FIELDS) {
    const from = child(child(strategy, key, 'spec.strategy'), 'from', `spec.strategy.${key}`);
    const kind = optionalString(from, 'kind', `spec.strategy.${key}.from`);
    const name = optionalString(from, 'name', `spec.strategy.${key}.from`);
    if (kind === undefined || name === undefined) continue;
    if (!SOURCE_KINDS.includes(kind)) {
      throw invalid(`spec.strategy.${key}.from.kind: expected ${SOURCE_KINDS.join(', ')}, got ${JSON.stringify(kind.slice(0, 40))}`);
    }
    const sourceNamespace = optionalString(from, 'namespace', `spec.strategy.${key}.from`) ?? namespace;
    return { kind: kind as ImageSourceKind, name, namespace: sourceNamespace };
  }
  return undefined;
}

export function parseBuild(object: KubeObject): OpenShiftBuild {
  const spec = child(object.raw, 'spec', 'build');
  const status = child(object.raw, 'status', 'build');
  const phase = optionalString(status, 'phase', 'status') ?? '';
  if (phase !== '' && !PHASES.includes(phase)) {
    throw invalid(`status.phase: expected one of ${PHASES.join(', ')}, got ${JSON.stringify(phase.slice(0, 40))}`);
  }
  const strategy = child(spec, 'strategy', 'spec');
  const from = imageSource(strategy, object.namespace);
  const outputReference = optionalString(status, 'outputDockerImageReference', 'status');
  const outputKind = optionalString(child(child(spec, 'output', 'spec'), 'to', 'spec.output'), 'kind', 'spec.output.to');
  const outputDigest = optionalString(child(child(status, 'output', 'status'), 'to', 'status.output'), 'imageDigest', 'status.output.to');
  const revision = optionalString(child(child(spec, 'revision', 'spec'), 'git', 'spec.revision'), 'commit', 'spec.revision.git');
  return {
    object, phase: phase as BuildPhase | '', strategy: optionalString(strategy, 'type', 'spec.strategy') ?? '',
    ...(from !== undefined ? { from } : {}), ...(outputReference !== undefined ? { outputReference } : {}),
    ...(outputKind !== undefined ? { outputKind } : {}), ...(outputDigest !== undefined ? { outputDigest } : {}),
    ...(revision !== undefined ? { revision } : {}),
  };
}
