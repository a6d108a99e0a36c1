/**
 * The one table of the kinds build-watcher acts on. Every list of kinds (configuration, help texts, the events accepted, the
 * sweep's and the command line's collections), every API path and every reply subject derives from it. Adding a kind touches this
 * table and the source module that handles it (`handler`, wired in functions/wiring.ts), nothing else.
 */
export const KINDS = {
  Build: { apiVersions: ['build.openshift.io/v1'], plural: 'builds', handler: 'build' },
  ImageStream: { apiVersions: ['image.openshift.io/v1'], plural: 'imagestreams', handler: 'imagestream' },
  TaskRun: { apiVersions: ['tekton.dev/v1', 'tekton.dev/v1beta1'], plural: 'taskruns', handler: 'tekton' },
  PipelineRun: { apiVersions: ['tekton.dev/v1', 'tekton.dev/v1beta1'], plural: 'pipelineruns', handler: 'tekton' },
  BuildRun: { apiVersions: ['shipwright.io/v1beta1'], plural: 'buildruns', handler: 'shipwright' },
} as const satisfies Record<string, { apiVersions: readonly [string, ...string[]]; plural: string; handler: string }>;

export type KindName = keyof typeof KINDS;
export type SourceHandler = (typeof KINDS)[KindName]['handler'];

/** In the table's order: Builds first, which is the order the sweep lists them in. */
export const KIND_NAMES = Object.keys(KINDS) as KindName[];

/** The kind named by `apiVersion` and `kind`, if it is one of ours at an accepted version. */
export function kindOf(apiVersion: string, kind: string): KindName | undefined {
  if (!Object.hasOwn(KINDS, kind)) return undefined;
  const name = kind as KindName;
  const accepted: readonly string[] = KINDS[name].apiVersions;
  return accepted.includes(apiVersion) ? name : undefined;
}

/** `apiVersion/kind`: a kind at one version, in messages and as the key of the sources' map. */
export const kindKey = (object: { readonly apiVersion: string; readonly kind: string }): string => `${object.apiVersion}/${object.kind}`;

/** `apiVersion/kind` for every accepted version, for messages. */
export function acceptedKinds(): string[] {
  return KIND_NAMES.flatMap((kind) => KINDS[kind].apiVersions.map((apiVersion) => kindKey({ apiVersion, kind })));
}

/** The version listed and watched: the first one accepted. */
export const watchedVersion = (kind: KindName): string => KINDS[kind].apiVersions[0];
