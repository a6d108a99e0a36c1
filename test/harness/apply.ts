import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeRequestError } from './kube-http.js';
import type { KubeHttp } from './kube-http.js';
import { waitFor } from './wait.js';

/** The parts of a Kubernetes object the harness needs to route it. */
export interface ManifestObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** A YAML/JSON file, a directory of them, or objects. */
export type ManifestInput = string | readonly ManifestObject[];

interface ResourceInfo {
  plural: string;
  namespaced: boolean;
}

const APPLY_ORDER = ['Namespace', 'CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'Role'];

/**
 * Server-side apply (field manager `build-watcher-harness`, force) after a strict dry-run
 * create, so unknown or misspelt fields fail loudly instead of being dropped. CRDs are awaited
 * until served before anything after them is applied.
 */
export class ManifestApplier {
  private readonly discovery = new Map<string, Map<string, ResourceInfo>>();

  constructor(private readonly kube: KubeHttp) {}

  async apply(input: ManifestInput): Promise<ManifestObject[]> {
    const objects = typeof input === 'string' ? await loadManifests(input) : [...input];
    const rank = (o: ManifestObject): number => {
      const i = APPLY_ORDER.indexOf(o.kind);
      return i === -1 ? APPLY_ORDER.length : i;
    };
    objects.sort((a, b) => rank(a) - rank(b));
    const applied: ManifestObject[] = [];
    for (const object of objects) {
      applied.push(await this.applyOne(object));
      if (object.kind === 'CustomResourceDefinition') await this.waitServed(object);
    }
    return applied;
  }

  /** The REST path of an object (collection path when `name` is omitted). */
  async pathFor(apiVersion: string, kind: string, namespace: string | undefined, name?: string): Promise<string> {
    const info = await this.resource(apiVersion, kind);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : '';
    return `${base}${ns}/${info.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
  }

  private async applyOne(object: ManifestObject): Promise<ManifestObject> {
    const { apiVersion, kind, metadata } = object;
    const fail = (err: unknown): never => {
      throw new Error(`applying ${kind} ${metadata.name}: ${err instanceof Error ? err.message : String(err)}`);
    };
    // Server-side apply prunes unknown fields of custom resources without a word, even with
    // fieldValidation=Strict; a strict dry-run create rejects them (409 means "exists": fine).
    const collection = await this.pathFor(apiVersion, kind, metadata.namespace);
    const check = await this.kube.send({ method: 'POST', path: `${collection}?dryRun=All&fieldValidation=Strict`, body: object });
    if (check.status !== 409 && (check.status < 200 || check.status >= 300)) {
      fail(new KubeRequestError('POST (dry run)', collection, check));
    }
    const path = await this.pathFor(apiVersion, kind, metadata.namespace, metadata.name);
    const query = '?fieldManager=build-watcher-harness&force=true&fieldValidation=Strict';
    const result = await this.kube
      .json({ method: 'PATCH', path: path + query, body: object, contentType: 'application/apply-patch+yaml' })
      .catch(fail);
    return asManifestObject(result, 'apply result');
  }

  /** Established, and past the "storage is (re)initializing" 429s that follow for a moment. */
  private async waitServed(crd: ManifestObject): Promise<void> {
    const name = crd.metadata.name;
    await waitFor(
      async () => {
        const current = await this.kube.json({ path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}` });
        return isEstablished(current) ? true : undefined;
      },
      { what: `CRD ${name} to be Established`, timeoutMs: 30_000 },
    );
    const spec = crd['spec'] as { group?: unknown; names?: { plural?: unknown }; versions?: unknown } | undefined;
    const versions = Array.isArray(spec?.versions) ? (spec.versions as { name?: unknown; served?: unknown }[]) : [];
    for (const version of versions.filter((v) => v.served === true && typeof v.name === 'string')) {
      const path = `/apis/${String(spec?.group)}/${String(version.name)}/${String(spec?.names?.plural)}?limit=1`;
      await waitFor(async () => ((await this.kube.send({ path })).status === 200 ? true : undefined), {
        what: `${name} ${String(version.name)} to be listable`,
        timeoutMs: 30_000,
      });
    }
  }

  private async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const cached = this.discovery.get(apiVersion)?.get(kind);
    if (cached) return cached;
    // A CRD applied a moment ago takes a little while to show up in discovery.
    return waitFor(
      async () => {
        await this.discover(apiVersion);
        return this.discovery.get(apiVersion)?.get(kind);
      },
      { what: `kind ${kind} in ${apiVersion} to be served`, timeoutMs: 15_000, intervalMs: 200 },
    );
  }

  private async discover(apiVersion: string): Promise<void> {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const res = await this.kube.send({ path });
    if (res.status === 404) return;
    if (res.status !== 200) throw new Error(`discovery of ${apiVersion}: ${res.status}`);
    const list: unknown = JSON.parse(res.text);
    const kinds = new Map<string, ResourceInfo>();
    const resources = list !== null && typeof list === 'object' && 'resources' in list ? list.resources : [];
    for (const r of Array.isArray(resources) ? (resources as unknown[]) : []) {
      if (r === null || typeof r !== 'object') continue;
      if (!('name' in r) || !('kind' in r) || !('namespaced' in r)) continue;
      const { name, kind, namespaced } = r;
      if (typeof name !== 'string' || name.includes('/') || typeof kind !== 'string') continue;
      kinds.set(kind, { plural: name, namespaced: namespaced === true });
    }
    this.discovery.set(apiVersion, kinds);
  }
}

function isEstablished(crd: unknown): boolean {
  if (crd === null || typeof crd !== 'object' || !('status' in crd)) return false;
  const status = crd.status;
  if (status === null || typeof status !== 'object' || !('conditions' in status)) return false;
  const conditions = status.conditions;
  return (
    Array.isArray(conditions) &&
    conditions.some(
      (c: unknown) =>
        c !== null && typeof c === 'object' && 'type' in c && c.type === 'Established' && 'status' in c && c.status === 'True',
    )
  );
}

/** Every object in a YAML/JSON file or in the files of a directory (sorted by name); `List`s are flattened. */
export async function loadManifests(fileOrDir: string): Promise<ManifestObject[]> {
  const files = (await stat(fileOrDir)).isDirectory()
    ? (await readdir(fileOrDir))
        .filter((f) => /\.(ya?ml|json)$/.test(f))
        .sort()
        .map((f) => join(fileOrDir, f))
    : [fileOrDir];
  const objects: ManifestObject[] = [];
  for (const file of files) {
    // Plain YAML, not client-node's loadAllYaml: that one maps objects onto its typed models and
    // renames or drops fields on the way (x-kubernetes-* keys, unknown fields).
    for (const parsed of parseAllDocuments(await readFile(file, 'utf8'))) {
      if (parsed.errors.length > 0) throw new Error(`${file}: ${parsed.errors[0]?.message ?? 'invalid YAML'}`);
      const doc: unknown = parsed.toJS();
      if (doc === null || doc === undefined) continue;
      const object = asManifestObject(doc, file);
      if (object.kind === 'List' && Array.isArray(object['items'])) {
        for (const item of object['items'] as unknown[]) objects.push(asManifestObject(item, file));
      } else {
        objects.push(object);
      }
    }
  }
  return objects;
}

export function asManifestObject(value: unknown, where: string): ManifestObject {
  if (
    value !== null &&
    typeof value === 'object' &&
    'apiVersion' in value &&
    typeof value.apiVersion === 'string' &&
    'kind' in value &&
    typeof value.kind === 'string' &&
    (value.kind === 'List' ||
      ('metadata' in value &&
        value.metadata !== null &&
        typeof value.metadata === 'object' &&
        'name' in value.metadata &&
        typeof value.metadata.name === 'string'))
  ) {
    return value as ManifestObject;
  }
  throw new Error(`${where}: not a Kubernetes object with apiVersion, kind and metadata.name`);
}
