/**
 * A wiring module: the pipeline built from a Config, shared by the Knative function (index.ts) and the command line
 * (cli/run.ts), so both submit, push, mark and sweep alike. These three are the only modules that put the others together.
 */
import { existsSync } from 'node:fs';
import type { CredentialPolicy } from './access/policy.js';
import { buildSource } from './builds/source.js';
import { limitConcurrency } from './concurrency.js';
import type { Config } from './config.js';
import type { CredentialSource } from './domain/built-image.js';
import { KIND_NAMES, kindKey, KINDS, watchedVersion, type KindName, type SourceHandler } from './domain/kinds.js';
import type { KubeApi } from './kube/api.js';
import { listPage, type Collection, type PageLister } from './kube/objects.js';
import { serviceAccountFile } from './kube/service-account.js';
import { kubeEventRecorder, kubeObjectStore } from './kube/store.js';
import { imageCopies, observeThothRequest, waitingForWorker } from './observability/metrics.js';
import { registerSecret } from './observability/redact.js';
import { onFirstUse } from './single-flight.js';
import type { PipelineDeps } from './pipeline/analyze.js';
import { Ledger } from './ledger/ledger.js';
import type { Outcome } from './pipeline/outcome.js';
import type { ImageCopier, Submitter } from './pipeline/ports.js';
import type { PushPolicy } from './pipeline/push.js';
import type { SourceKind } from './pipeline/source-kind.js';
import { pushDestination } from './registry/naming.js';
import { imageStreamSource } from './sources/imagestream-source.js';
import { shipwrightSource } from './sources/shipwright-source.js';
import { tektonSource } from './sources/tekton-source.js';
import { ownNamespace } from './sweep/namespaces.js';
import { SweepRequests } from './sweep/request.js';
import type { ThothClientOptions } from './thoth/client.js';

/** Mounted into every OpenShift pod: the CA of the internal registry's serving certificate. */
const SERVICE_CA_PATH = serviceAccountFile('service-ca.crt');

/** BUILD_WATCHER_SOURCE_KINDS, plus ImageStream when THOTH_ANALYZE_EXISTING is on. */
function enabledKinds(config: Config): ReadonlySet<KindName> {
  const kinds = new Set(config.sourceKinds);
  if (config.analyzeExisting) kinds.add('ImageStream');
  return kinds;
}

/** What the sweep lists and the command line watches, in the table's order (Builds first). */
export function collectionsFor(config: Config): Collection[] {
  const kinds = enabledKinds(config);
  return KIND_NAMES.filter((kind) => kinds.has(kind)).map((kind) => ({ apiVersion: watchedVersion(kind), kind }));
}

/** The enabled source kinds, keyed by `apiVersion/kind` for every version the table accepts. */
export function sourcesFor(config: Config): ReadonlyMap<string, SourceKind> {
  const kinds = enabledKinds(config);
  const pushHost = config.pushRegistry === '' ? [] : [config.pushRegistry.split('/')[0] ?? ''];
  const destinationHosts = [...new Set([...config.namespaceRepositories.map((pattern) => pattern.host), ...pushHost.map((host) => host.toLowerCase())])];
  const credentials: CredentialPolicy = {
    passToken: config.passToken, tokenFile: config.tokenFile, sourceRegistryVerifyTls: config.sourceRegistryVerifyTls,
    ...(config.sourceCredentials !== undefined ? { sourceCredentials: config.sourceCredentials } : {}), sharedNamespaces: config.sharedImageNamespaces,
    ...(config.destinationCredentials !== undefined ? { destinationCredentials: config.destinationCredentials } : {}),
    destinationRepositories: config.namespaceRepositories, destinationHosts, fetchableHosts: [...config.pullRegistries, ...pushHost],
  };
  const runs = { sendOutputImage: config.sendOutputImage, credentials };
  const handlers: Record<SourceHandler, () => SourceKind> = {
    build: () => buildSource({ sendBaseImage: config.sendBaseImage, sendOutputImage: config.sendOutputImage, sendBuildLog: config.sendBuildLog }, credentials),
    imagestream: () => imageStreamSource({ credentials }),
    tekton: () => tektonSource({ ...runs, taskRunsSubmit: kinds.has('TaskRun') }),
    shipwright: () => shipwrightSource(runs),
  };
  const sources = new Map<string, SourceKind>();
  for (const kind of kinds) {
    const source = handlers[KINDS[kind].handler]();
    for (const apiVersion of KINDS[kind].apiVersions) sources.set(kindKey({ apiVersion, kind }), source);
  }
  return sources;
}

/**
 * axios takes a quarter of a second to import and only submissions need it: loaded on the first submission, not on
 * the cold start that ends every scale-to-zero pause. A failed load is tried again on the next use.
 */
export function lazyThothClient(options: ThothClientOptions, load = () => import('./thoth/client.js')): Submitter {
  const client = onFirstUse(async () => new (await load()).ThothClient(options));
  return {
    submitBuildAnalysis: async (request, signal) => (await client()).submitBuildAnalysis(request, signal),
    submitImageAnalysis: async (request, signal) => (await client()).submitImageAnalysis(request, signal),
  };
}

/** THOTH_PUSH_REGISTRY: the copier, imported on the first copy, with the configured TLS. */
function registryCopier(config: Config): ImageCopier {
  const caPath = config.caBundleFile !== '' ? config.caBundleFile : existsSync(SERVICE_CA_PATH) ? SERVICE_CA_PATH : undefined;
  const tls = (registry: string, verify: boolean) => ({ verify, ...(caPath !== undefined ? { caPath } : {}),
    allowPlainHttp: config.plainHttpRegistries.includes(registry) });
  return {
    async copy(request) {
      const { copyImage } = await import('./registry/copy-image.js');
      try {
        const result = await copyImage({ source: request.source, destination: request.destination, sourceAuth: request.sourceCredentials,
          destinationAuth: request.destinationCredentials, sourceTls: tls(request.source.registry, request.sourceVerifyTls),
          destinationTls: tls(request.destination.registry, request.destinationVerifyTls), ...(request.signal !== undefined ? { signal: request.signal } : {}) });
        imageCopies.inc({ result: 'copied' });
        return { digest: result.digest };
      } catch (error) {
        imageCopies.inc({ result: 'failed' });
        throw error;
      }
    },
  };
}

/** The push policy for this configuration, or undefined when images are submitted in place. */
function pushPolicyFor(config: Config): PushPolicy | undefined {
  if (config.pushRegistry === '') return undefined;
  const destinationCredentials: CredentialSource =
    config.destinationCredentials !== undefined ? { kind: 'basic', credentials: config.destinationCredentials } : { kind: 'none' };
  return {
    copier: registryCopier(config),
    destinationFor: (image, output) => pushDestination(output, { pushRegistry: config.pushRegistry, naming: config.pushNaming, namespace: image.source.namespace }),
    destinationCredentials,
    destinationVerifyTls: config.destinationRegistryVerifyTls,
  };
}

export interface Wiring {
  readonly config: Config;
  readonly deps: Omit<PipelineDeps, 'log'>;
  /** Pages of the watched collections, for the sweep and the command line. */
  readonly lister: PageLister;
  readonly collections: readonly Collection[];
  readonly sweeps: SweepRequests;
}

/** `kube` connects on first use (see onFirstUse). */
export function wire(config: Config, kube: () => Promise<KubeApi>): Wiring {
  registerSecret(config.sourceCredentials?.password, config.sourceCredentials?.username);
  registerSecret(config.destinationCredentials?.password, config.destinationCredentials?.username);
  const thoth = config.thothHost === '' ? undefined : lazyThothClient({ host: config.thothHost, verifyTls: config.thothVerifyTls,
    caBundleFile: config.caBundleFile, timeoutMs: config.thothTimeoutMs, onRequest: observeThothRequest });
  const push = pushPolicyFor(config);
  const lister: PageLister = { page: async (collection, page) => listPage(await kube(), collection, page) };
  const collections = collectionsFor(config);
  const leaseMs = config.claimLeaseSeconds * 1000;
  const store = kubeObjectStore(kube);
  return {
    config, lister, collections,
    sweeps: new SweepRequests({ lister, collections, watchedNamespaces: config.watchedNamespaces, ownNamespace: () => ownNamespace(config.podNamespace), allNamespaces: config.sweepAllNamespaces, batch: config.sweepBatch }),
    deps: {
      store,
      recorder: kubeEventRecorder(kube, config.hostname),
      ...(thoth !== undefined ? { submitter: thoth } : {}),
      ...(push !== undefined ? { push } : {}),
      sources: sourcesFor(config),
      analysisOptions: { environmentType: config.environmentType, origin: config.origin, debug: config.debug, force: config.force },
      ledger: new Ledger<Outcome>({ store, hostname: config.hostname, timing: { leaseMs, renewMs: Math.max(1, Math.floor(leaseMs / 3)) },
        readOnly: config.trustEventPayload }),
      limit: limitConcurrency(config.workers, { queueLimit: config.queueLimit, onQueueChange: (priority, waiting) => waitingForWorker.set({ priority }, waiting) }),
    },
  };
}
