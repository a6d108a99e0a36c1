/**
 * In-memory stand-ins for the pipeline's ports, for unit tests of source kinds, the sweep and
 * the command line's watch loop: an API server that keeps objects, resourceVersions, merge
 * patches with optimistic concurrency and paged lists; a Thoth that records submissions.
 */
import { randomUUID } from 'node:crypto';
import type { CredentialPolicy } from '../../functions/access/policy.js';
import { KubeApiError } from '../../functions/kube/api.js';
import { kindKey } from '../../functions/domain/kinds.js';
import { objectKey, objectLabel, parseKubeObject, type KubeObject, type ObjectCoordinates } from '../../functions/kube/object.js';
import type { Collection, ObjectPage, PageLister, PatchOptions } from '../../functions/kube/objects.js';
import type { EventRecorder, ObjectStore } from '../../functions/kube/store.js';
import type { Logger } from '../../functions/observability/logger.js';
import { limitConcurrency } from '../../functions/concurrency.js';
import type { Limiter } from '../../functions/concurrency.js';
import type { PipelineDeps } from '../../functions/pipeline/analyze.js';
import type { Submitter } from '../../functions/pipeline/ports.js';
import type { PlanContext, SourceKind } from '../../functions/pipeline/source-kind.js';
import { Ledger, type LedgerOptions } from '../../functions/ledger/ledger.js';
import type { Outcome } from '../../functions/pipeline/outcome.js';
import type { BuildAnalysisRequest, ImageAnalysisRequest } from '../../functions/thoth/requests.js';
import type { AnalysisTicket, BuildAnalysisResult } from '../../functions/thoth/responses.js';
import { BuildWatcherError, refused, transient } from '../../functions/errors.js';

type Json = Record<string, unknown>;

const metadataOf = (object: Json): Json => (object['metadata'] ?? {}) as Json;

export class MemoryCluster implements ObjectStore, PageLister {
  readonly #objects = new Map<string, Json>();
  #version = 100;
  /** Every page request: collection key, limit, continue token. */
  readonly pageRequests: { collection: string; limit: number; continueToken?: string }[] = [];
  /** Every annotation patch, in order. */
  readonly patches: { key: string; annotations: Readonly<Record<string, string | null>>; withVersion: boolean }[] = [];
  reads = 0;
  /** Collections (`apiVersion/kind`) answered with this status instead of a page. */
  readonly listStatus = new Map<string, number>();
  /** The next page requests fail transiently. */
  failPages = 0;
  /** Patches answer 403 (no patch rights). */
  forbidPatch = false;

  /** Stores a copy with a uid and resourceVersion; answers the parsed object. */
  put(object: Json): KubeObject {
    const metadata = { ...metadataOf(object) };
    const key = objectKey(parseKubeObject(object));
    const previous = this.#objects.get(key);
    metadata['uid'] ??= metadataOf(previous ?? {})['uid'] ?? randomUUID();
    metadata['resourceVersion'] = String(++this.#version);
    const stored = { ...structuredClone(object), metadata };
    this.#objects.set(key, stored);
    return parseKubeObject(structuredClone(stored));
  }

  get(ref: ObjectCoordinates): KubeObject | undefined {
    const stored = this.#objects.get(objectKey(ref));
    return stored === undefined ? undefined : parseKubeObject(structuredClone(stored));
  }

  delete(ref: ObjectCoordinates): void {
    this.#objects.delete(objectKey(ref));
  }

  async read(ref: ObjectCoordinates): Promise<KubeObject | undefined> {
    this.reads += 1;
    return this.get(ref);
  }

  async patchAnnotations(
    object: ObjectCoordinates,
    annotations: Readonly<Record<string, string | null>>,
    options: PatchOptions = {},
  ): Promise<KubeObject> {
    const key = objectKey(object);
    const what = `PATCH ${key}`;
    if (this.forbidPatch) throw new KubeApiError(403, what, 'Forbidden');
    const stored = this.#objects.get(key);
    if (stored === undefined) throw new KubeApiError(404, what, 'NotFound');
    const metadata = metadataOf(stored);
    if (options.resourceVersion !== undefined && options.resourceVersion !== metadata['resourceVersion']) {
      throw new KubeApiError(409, what, 'Conflict');
    }
    const current = (metadata['annotations'] ?? {}) as Record<string, string>;
    // The API server's JSON-patch semantics: a failed `test`, or a removal of an absent key, is 422.
    const unmet = options.expect !== undefined && current[options.expect.annotation] !== options.expect.value;
    if (unmet || (options.expect !== undefined && Object.entries(annotations).some(([name, value]) => value === null && current[name] === undefined))) {
      throw new KubeApiError(422, what, 'Invalid');
    }
    this.patches.push({ key, annotations, withVersion: options.resourceVersion !== undefined });
    const merged: Record<string, string> = { ...((metadata['annotations'] ?? {}) as Record<string, string>) };
    for (const [name, value] of Object.entries(annotations)) {
      if (value === null) delete merged[name];
      else merged[name] = value;
    }
    return this.put({ ...stored, metadata: { ...metadata, annotations: merged } });
  }

  async readBuildLog(): Promise<string> {
    return 'STEP 1/1: FROM scratch\n';
  }

  /** `listPage` semantics: items without apiVersion/kind, a continue token while more remain. */
  async page(collection: Collection, options: { limit: number; continueToken?: string }): Promise<ObjectPage> {
    const id = kindKey(collection);
    this.pageRequests.push({ collection: id, limit: options.limit, ...(options.continueToken !== undefined ? { continueToken: options.continueToken } : {}) });
    if (this.failPages > 0) {
      this.failPages -= 1;
      throw transient(`Kubernetes API unreachable on list ${collection.kind}`);
    }
    const status = this.listStatus.get(id);
    if (status !== undefined) throw new KubeApiError(status, `GET ${id}`, '');
    const prefix = collection.namespace === undefined ? `${id}/` : `${id}/${collection.namespace}/`;
    const keys = [...this.#objects.keys()].filter((key) => key.startsWith(prefix)).sort();
    const start = options.continueToken === undefined ? 0 : Number(options.continueToken);
    const slice = keys.slice(start, start + options.limit);
    const items = slice.map((key) => {
      const copy = structuredClone(this.#objects.get(key) ?? {});
      delete copy['apiVersion'];
      delete copy['kind'];
      return copy;
    });
    const next = start + slice.length;
    return { items, continueToken: next < keys.length ? String(next) : '', resourceVersion: String(this.#version) };
  }
}

export interface RecordedEvent {
  readonly object: string;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
}

export class MemoryRecorder implements EventRecorder {
  readonly events: RecordedEvent[] = [];
  async record(object: ObjectCoordinates & { uid: string }, event: { type: string; reason: string; message: string }): Promise<void> {
    this.events.push({ object: objectLabel(object), ...event });
  }
}

/** Records submissions; `refuse` and `fail` decide per image reference. */
export class MemoryThoth implements Submitter {
  readonly builds: BuildAnalysisRequest[] = [];
  readonly images: ImageAnalysisRequest[] = [];
  refuse: (image: string) => boolean = () => false;
  fail: (image: string) => boolean = () => false;
  #ids = 0;

  get all(): string[] {
    return [...this.builds.map((request) => request.output?.image ?? request.base?.image ?? 'log'), ...this.images.map((request) => request.image)];
  }

  #check(image: string): void {
    if (this.fail(image)) throw transient('Thoth unavailable (503)');
    if (this.refuse(image)) throw refused('Thoth refused the image (400)');
  }

  #ticket(): AnalysisTicket {
    return { analysisId: `package-extract-${++this.#ids}`, cached: false };
  }

  async submitBuildAnalysis(request: BuildAnalysisRequest): Promise<BuildAnalysisResult> {
    this.#check(request.output?.image ?? request.base?.image ?? 'log');
    this.builds.push(request);
    return {
      ...(request.output !== undefined ? { output: this.#ticket() } : {}),
      ...(request.base !== undefined ? { base: this.#ticket() } : {}),
    };
  }

  async submitImageAnalysis(request: ImageAnalysisRequest): Promise<AnalysisTicket> {
    this.#check(request.image);
    this.images.push(request);
    return this.#ticket();
  }
}

/** Keeps log lines for assertions. */
export function memoryLogger(): Logger & { readonly lines: { level: string; message: string; fields: unknown }[] } {
  const lines: { level: string; message: string; fields: unknown }[] = [];
  const at = (level: string) => (fields: unknown, message: string) => lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** What every PipelineDeps needs besides its ports: its own ledger over `store`, and a worker limit. */
export function freshPipeline(store: ObjectStore, options: Partial<Omit<LedgerOptions, 'store'>> = {}, workers = 4): { ledger: Ledger<Outcome>; limit: Limiter } {
  return { ledger: new Ledger<Outcome>({ store, hostname: 'test', ...options }), limit: limitConcurrency(workers) };
}

/**
 * PipelineDeps over in-memory ports: `sources` keyed `apiVersion/kind`, no push registry, no
 * analysis options, the payload re-read; `overrides` replace any of it, `ledger` sets the ledger's options.
 */
export function memoryPipeline(
  store: MemoryCluster,
  submitter: Submitter,
  sources: ReadonlyMap<string, SourceKind>,
  overrides: Partial<PipelineDeps> = {},
  ledger: Partial<Omit<LedgerOptions, 'store'>> = {},
): PipelineDeps {
  return { store, recorder: new MemoryRecorder(), submitter, sources, analysisOptions: {}, ...freshPipeline(store, ledger), log: memoryLogger(), ...overrides };
}

/** A credential policy as the default configuration makes it, with `overrides`. */
export function credentialPolicy(overrides: Partial<CredentialPolicy> = {}): CredentialPolicy {
  return { passToken: false, tokenFile: '', sourceRegistryVerifyTls: true, sharedNamespaces: ['openshift'], destinationRepositories: [], destinationHosts: [], fetchableHosts: [], ...overrides };
}

/** What a source kind plans with, over an in-memory store. */
export function planContext(store: ObjectStore, log: Logger = memoryLogger()): PlanContext {
  return { store, log };
}

/**
 * Reads `value` the way the function does: through parseKubeObject, the boundary, then `read`.
 * What the boundary refuses (not an object of ours) answers 'refused at the boundary'.
 */
export function throughTheBoundary<T>(read: (object: KubeObject) => T): { extract: (value: unknown) => T; readOrRefuse: (value: unknown) => T | 'refused at the boundary' } {
  const extract = (value: unknown) => read(parseKubeObject(value));
  return {
    extract,
    readOrRefuse: (value) => {
      try {
        return extract(value);
      } catch (error) {
        if (!(error instanceof BuildWatcherError) || error.kind !== 'invalid') throw error;
        return 'refused at the boundary';
      }
    },
  };
}
