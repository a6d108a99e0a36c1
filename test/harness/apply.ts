import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
 * Server-side apply (field manager `build-watcher-harness`, force, fieldValidation=Strict), so
 * unknown or misspelt fields fail loudly instead of being dropped. CRDs are awaited until
 * Established before anything after them is applied.
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
      if (object.kind === 'CustomResourceDefinition') await this.waitEstablished(object.metadata.name);
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
    const path = await this.pathFor(object.apiVersion, object.kind, object.metadata.namespace, object.metadata.name);
    const query = '?fieldManager=build-watcher-harness&force=true&fieldValidation=Strict';
    const result = await this.kube
      .json({ method: 'PATCH', path: path + query, body: object, contentType: 'application/apply-patch+yaml' })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`applying ${object.kind} ${object.metadata.name}: ${message}`);
      });
    return asManifestObject(result, 'apply result');
  }

  private async waitEstablished(name: string): Promise<void> {
    await waitFor(
      async () => {
        const crd = await this.kube.json({ path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}` });
        return isEstablished(crd) ? true : undefined;
      },
      { what: `CRD ${name} to be Established`, timeoutMs: 30_000 },
    );
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
  const { loadAllYaml } = await import('@kubernetes/client-node');
  const objects: ManifestObject[] = [];
  for (const file of files) {
    const docs: unknown[] = loadAllYaml(await readFile(file, 'utf8'));
    for (const doc of docs) {
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
