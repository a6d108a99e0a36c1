/**
 * Reads knative/ and func.yaml the way the cluster tools will, for offline checks of the
 * deployment files, and models the documented install recipes (`oc apply -f DIR [-l SELECTOR]`).
 */
import { lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { isRecord } from '../../functions/kube/object.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KNATIVE_DIR = join(REPO_ROOT, 'knative');
export const NAMESPACE = 'build-watcher';

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

export interface Manifest {
  /** Path relative to the repository root, e.g. `knative/broker.yaml`. */
  readonly file: string;
  readonly object: KubeObject;
}

/** Dates become ISO strings so YAML 1.1 and 1.2 readings can be compared. */
function plain(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString().replace('.000Z', 'Z');
  if (Array.isArray(value)) return value.map(plain);
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/**
 * Every document of a YAML stream. Kubernetes tools read YAML 1.1 (where `yes`, `on`, `0755`
 * are not strings) and most editors YAML 1.2: a file must mean the same under both, so a value
 * can never change type between the author's eye and the API server.
 */
export function parseYamlStream(text: string, file: string): unknown[] {
  const read = (version: '1.1' | '1.2'): unknown[] =>
    parseAllDocuments(text, { version, uniqueKeys: true, prettyErrors: true }).flatMap((doc) => {
      const problems = [...doc.errors, ...doc.warnings];
      if (problems.length > 0) throw new Error(`${file}: ${problems.map((p) => p.message).join('; ')}`);
      const value: unknown = doc.toJS();
      return value === null || value === undefined ? [] : [plain(value)];
    });
  const strict = read('1.2');
  const legacy = read('1.1');
  if (JSON.stringify(strict) !== JSON.stringify(legacy)) {
    throw new Error(`${file} reads differently as YAML 1.1 and 1.2: quote the ambiguous scalars`);
  }
  return strict;
}

function asKubeObject(value: unknown, file: string): KubeObject {
  if (!isRecord(value)) throw new Error(`${file}: a document is not a mapping`);
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !isRecord(metadata) || typeof metadata['name'] !== 'string') {
    throw new Error(`${file}: a document lacks apiVersion, kind or metadata.name`);
  }
  return value as KubeObject;
}

/**
 * Directories under knative/ that hold data kustomize generators read (Grafana dashboards, JSON
 * Schemas), not objects: `oc apply -f` never reaches them (it does not descend), nor do these tests.
 */
const DATA_DIRS = new Set(['dashboards', 'schemas']);

/**
 * YAML/JSON files under `dir`, sorted. With `recursive: false` only its own files, links
 * included, like `oc apply -f dir`. With `recursive: true` every real file once: the links at
 * knative/*.yaml are the `-f` view of knative/base/, not objects of their own.
 */
export function manifestFiles(dir: string, options: { recursive: boolean }): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (options.recursive && !DATA_DIRS.has(entry)) found.push(...manifestFiles(path, options));
    } else if (/\.(ya?ml|json)$/.test(entry) && !(options.recursive && lstatSync(path).isSymbolicLink())) {
      found.push(path);
    }
  }
  return found;
}

/**
 * The documented way to install into another namespace: replace every `namespace: build-watcher`
 * line. Tests use it to prove that one substitution moves everything.
 */
export function moveNamespace(text: string, namespace: string): string {
  return text.replace(/^(\s*(?:- )?namespace:) build-watcher$/gm, `$1 ${namespace}`);
}

export function loadManifestFile(path: string, namespace: string = NAMESPACE): Manifest[] {
  const file = relative(REPO_ROOT, path);
  const text = readFileSync(path, 'utf8');
  const moved = namespace === NAMESPACE ? text : moveNamespace(text, namespace);
  return parseYamlStream(moved, file).map((doc) => ({ file, object: asKubeObject(doc, file) }));
}

/** Every object in knative/, subdirectories included. */
export function loadAllManifests(): Manifest[] {
  return manifestFiles(KNATIVE_DIR, { recursive: true }).flatMap((file) => loadManifestFile(file));
}

export function loadFuncYaml(): Record<string, unknown> {
  const [doc, ...rest] = parseYamlStream(readFileSync(join(REPO_ROOT, 'func.yaml'), 'utf8'), 'func.yaml');
  if (!isRecord(doc) || rest.length > 0) throw new Error('func.yaml must hold exactly one mapping');
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Label selectors, as `oc apply -l` reads them (the forms the docs use).

type Requirement = (labels: Readonly<Record<string, string>>) => boolean;

function parseRequirement(text: string): Requirement {
  const set = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (set) {
    const [, key = '', op, list = ''] = set;
    const values = list.split(',').map((v) => v.trim());
    return (labels) => {
      const value = labels[key];
      return op === 'in' ? value !== undefined && values.includes(value) : value === undefined || !values.includes(value);
    };
  }
  const eq = /^([\w./-]+)\s*(!=|==|=)\s*([\w.-]*)$/.exec(text);
  if (eq) {
    const [, key = '', op, value] = eq;
    return (labels) => (op === '!=' ? labels[key] !== value : labels[key] === value);
  }
  const exists = /^(!?)([\w./-]+)$/.exec(text);
  if (exists) {
    const [, not, key = ''] = exists;
    return (labels) => (labels[key] !== undefined) !== (not === '!');
  }
  throw new Error(`label selector requirement not understood: ${text}`);
}

/** Splits on the commas that separate requirements, not those inside `in (a,b)`. */
export function parseSelector(selector: string): Requirement {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current.trim());
  const requirements = parts.map(parseRequirement);
  return (labels) => requirements.every((r) => r(labels));
}

// ---------------------------------------------------------------------------------------------
// Install recipes: what the documented commands put into the cluster.

export interface ApplyStep {
  /** Directory or file relative to the repository root, as typed after `oc apply -f`. */
  readonly path: string;
  readonly selector?: string;
}

export interface Recipe {
  readonly name: string;
  readonly steps: readonly ApplyStep[];
  /** The function Knative Service `kn func deploy` creates is part of every recipe. */
  readonly broker: boolean;
}

export const RECIPES: readonly Recipe[] = [
  { name: 'default', broker: true, steps: [{ path: 'knative/' }] },
  {
    name: 'kafka',
    broker: true,
    steps: [{ path: 'knative/variants/kafka/' }, { path: 'knative/', selector: 'app.kubernetes.io/component!=broker' }],
  },
  {
    name: 'direct-sink',
    broker: false,
    steps: [
      { path: 'knative/', selector: 'app.kubernetes.io/component in (rbac,config)' },
      { path: 'knative/variants/direct-sink/' },
    ],
  },
  {
    name: 'all-namespaces',
    broker: true,
    steps: [
      { path: 'knative/', selector: 'app.kubernetes.io/component!=source' },
      { path: 'knative/variants/all-namespaces/' },
    ],
  },
  {
    name: 'default with every optional add-on',
    broker: true,
    steps: [
      { path: 'knative/' },
      ...['imagestreams', 'tekton', 'shipwright', 'sweep', 'pull-token', 'observability', 'scan'].map((dir) => ({ path: `knative/optional/${dir}/` })),
    ],
  },
];

export function objectKey(object: KubeObject): string {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  return `${group}/${object.kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`;
}

/** The objects one `oc apply -f PATH [-l SELECTOR]` sends, in kubectl's file order. */
export function applyStep(step: ApplyStep, namespace: string = NAMESPACE): Manifest[] {
  const path = join(REPO_ROOT, step.path);
  const files = statSync(path).isDirectory() ? manifestFiles(path, { recursive: false }) : [path];
  const selected = step.selector === undefined ? () => true : parseSelector(step.selector);
  return files.flatMap((file) => loadManifestFile(file, namespace)).filter((m) => selected(m.object.metadata.labels ?? {}));
}

/** What the cluster holds after the recipe: later applies of the same object win. */
export function installedBy(recipe: Recipe, namespace: string = NAMESPACE): Manifest[] {
  const objects = new Map<string, Manifest>();
  for (const step of recipe.steps) {
    for (const manifest of applyStep(step, namespace)) objects.set(objectKey(manifest.object), manifest);
  }
  return [...objects.values()];
}

export function ofKind(manifests: readonly Manifest[], kind: string): KubeObject[] {
  return manifests.filter((m) => m.object.kind === kind).map((m) => m.object);
}

/** A Trigger's `spec.filter.attributes`: every listed attribute present and equal. */
export function triggerMatches(trigger: KubeObject, event: Readonly<Record<string, string>>): boolean {
  const attributes = field(trigger, 'spec', 'filter', 'attributes');
  if (!isRecord(attributes)) return true;
  return Object.entries(attributes).every(([name, value]) => event[name] === value);
}

/** A field path read without trusting the shape. */
export function field(value: unknown, ...path: (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof key === 'number') {
      if (!Array.isArray(current)) return undefined;
      current = current[key];
    } else {
      if (!isRecord(current)) return undefined;
      current = current[key];
    }
  }
  return current;
}
