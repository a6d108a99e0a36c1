/**
 * The pipeline built from a Config: what the Knative function (functions/index.ts) and the
 * command line (functions/cli/) share, so that both submit, push, mark and sweep alike.
 * index.ts remains the only module that wires for the Knative runtime.
 */
import { buildSource } from './builds/source.js';
import type { Config, SourceKindName } from './config.js';
import type { KubeApi } from './kube/api.js';
import { listPage } from './kube/objects.js';
import { kubeEventRecorder, kubeObjectStore } from './kube/store.js';
import { submissions, thothLatency } from './observability/metrics.js';
import { registerSecret } from './observability/redact.js';
import type { Outcome, PipelineDeps } from './pipeline/analyse.js';
import type { CredentialPolicy } from './pipeline/credentials.js';
import { limitConcurrency } from './concurrency.js';
import type { SourceKind } from './pipeline/source-kind.js';
import { imageStreamSource } from './sources/imagestream-source.js';
import { shipwrightSource } from './sources/shipwright-source.js';
import { tektonSource } from './sources/tekton-source.js';
import { pushPolicyFor } from './push-wiring.js';
import type { Collection, PageLister } from './sweep/sweep.js';
import type { ThothClientOptions, ThothSubmitter } from './thoth/client.js';

/** The API versions each kind is accepted at; the first is the one listed and watched. */
export const KIND_API_VERSIONS: Readonly<Record<SourceKindName, readonly string[]>> = {
  Build: ['build.openshift.io/v1'],
  ImageStream: ['image.openshift.io/v1'],
  TaskRun: ['tekton.dev/v1', 'tekton.dev/v1beta1'],
  PipelineRun: ['tekton.dev/v1', 'tekton.dev/v1beta1'],
  BuildRun: ['shipwright.io/v1beta1'],
};

/** BUILD_WATCHER_SOURCE_KINDS, plus ImageStream when THOTH_ANALYZE_EXISTING is on. */
export function enabledKinds(config: Config): ReadonlySet<SourceKindName> {
  const kinds = new Set(config.sourceKinds);
  if (config.analyzeExisting) kinds.add('ImageStream');
  return kinds;
}

/** What the sweep lists and the command line watches, in a stable order (Builds first). */
export function collectionsFor(config: Config): Collection[] {
  const kinds = enabledKinds(config);
  return (Object.keys(KIND_API_VERSIONS) as SourceKindName[])
    .filter((kind) => kinds.has(kind))
    .map((kind) => ({ apiVersion: KIND_API_VERSIONS[kind][0] ?? '', kind }));
}

/** The enabled source kinds, keyed by `apiVersion/kind` as PipelineDeps wants them. */
export function sourcesFor(config: Config): ReadonlyMap<string, SourceKind> {
  const kinds = enabledKinds(config);
  const credentials: CredentialPolicy = {
    passToken: config.passToken,
    tokenFile: config.tokenFile,
    sourceRegistryVerifyTls: config.sourceRegistryVerifyTls,
    ...(config.sourceCredentials !== undefined ? { sourceCredentials: config.sourceCredentials } : {}),
  };
  const runs = { sendOutputImage: config.sendOutputImage, credentials };
  const make: Record<SourceKindName, () => SourceKind> = {
    Build: () =>
      buildSource({ sendBaseImage: config.sendBaseImage, sendOutputImage: config.sendOutputImage, sendBuildLog: config.sendBuildLog }, credentials),
    ImageStream: () => imageStreamSource({ credentials }),
    TaskRun: () => tektonSource({ ...runs, taskRunsSubmit: kinds.has('TaskRun') }),
    PipelineRun: () => tektonSource({ ...runs, taskRunsSubmit: kinds.has('TaskRun') }),
    BuildRun: () => shipwrightSource(runs),
  };
  const sources = new Map<string, SourceKind>();
  for (const kind of kinds) {
    const source = make[kind]();
    for (const apiVersion of KIND_API_VERSIONS[kind]) sources.set(`${apiVersion}/${kind}`, source);
  }
  return sources;
}

/**
 * axios takes a quarter of a second to import and only submissions need it: load it on the
 * first submission, not on the cold start that ends every scale-to-zero pause.
 */
function lazyThothClient(options: ThothClientOptions): ThothSubmitter {
  let client: Promise<ThothSubmitter> | undefined;
  const get = () => (client ??= import('./thoth/client.js').then(({ ThothClient }) => new ThothClient(options)));
  return {
    submitBuildAnalysis: async (request, signal) => (await get()).submitBuildAnalysis(request, signal),
    submitImageAnalysis: async (request, signal) => (await get()).submitImageAnalysis(request, signal),
  };
}

export interface Wiring {
  readonly config: Config;
  readonly deps: Omit<PipelineDeps, 'log'>;
  readonly limit: <T>(task: () => Promise<T>) => Promise<T>;
  /** Pages of the watched collections, for the sweep. */
  readonly lister: PageLister;
  readonly collections: readonly Collection[];
}

/** `kube` connects on first use (functions/kube/store.ts lazyKubeApi). */
export function wire(config: Config, kube: () => Promise<KubeApi>): Wiring {
  registerSecret(config.sourceCredentials?.password);
  registerSecret(config.destinationCredentials?.password);
  const thoth = lazyThothClient({
    host: config.thothHost,
    verifyTls: config.thothVerifyTls,
    caBundleFile: config.caBundleFile,
    timeoutMs: config.thothTimeoutMs,
    onRequest: ({ endpoint, status, seconds }) => thothLatency.observe({ endpoint, status: String(status) }, seconds),
  });
  const push = pushPolicyFor(config);
  return {
    config,
    limit: limitConcurrency(config.workers),
    lister: { page: async (collection, options) => listPage(await kube(), collection, options) },
    collections: collectionsFor(config),
    deps: {
      store: kubeObjectStore(kube),
      recorder: kubeEventRecorder(kube),
      submitter: thoth,
      ...(push !== undefined ? { push } : {}),
      sources: sourcesFor(config),
      analysisOptions: {
        environmentType: config.environmentType,
        origin: config.origin,
        debug: config.debug,
        force: config.force,
      },
      trustEventPayload: config.trustEventPayload,
    },
  };
}

/** build_watcher_submissions_total for one outcome, wherever it came from. */
export function countSubmission(outcome: Outcome): void {
  if (outcome.kind === 'refused') submissions.inc({ endpoint: 'any', result: 'refused' });
  if (outcome.kind !== 'submitted') return;
  for (const { image, submission } of outcome.images) {
    submissions.inc({ endpoint: image.analysis === 'image' ? 'analyze' : 'build-analysis', result: submission.cached ? 'cached' : 'submitted' });
  }
}
