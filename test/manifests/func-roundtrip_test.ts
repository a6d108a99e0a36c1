/**
 * func.yaml survives `kn func build` / `kn func deploy`, which rewrite it through knative/func's
 * Function type and gopkg.in/yaml.v2 (pkg/functions/function.go, Write). The Go module proxy
 * refuses knative.dev/func, so this is an equivalent: the rewrite is modelled from func's own
 * JSON schema (test/manifests/knative-func-schema/, generated from the Go structs, so its
 * property order is the struct field order yaml.v2 writes), with yaml.v2's rules: unknown keys
 * dropped, empty `omitempty` values dropped, map keys sorted, YAML 1.1 quoting, block sequences
 * not indented, time.Time in RFC 3339. The model's output must be func.yaml byte for byte, and
 * with the two keys func adds (`registry`, `deploy.image`) differ from it in exactly those lines.
 * The reasons once kept in comments are in knative/func-yaml.md.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { isRecord } from '../../functions/kube/object.js';
import { REPO_ROOT, field, loadFuncYaml } from './manifests.js';

const schema: unknown = JSON.parse(readFileSync(join(REPO_ROOT, 'test/manifests/knative-func-schema/func_yaml-schema.json'), 'utf8'));
const funcYamlText = readFileSync(join(REPO_ROOT, 'func.yaml'), 'utf8');
/** Fields of func's structs without `omitempty` (function.go). */
const ALWAYS_WRITTEN = new Set(['specVersion', 'created']);

function definition(ref: unknown): unknown {
  const name = typeof ref === 'string' ? /^#\/definitions\/(.+)$/.exec(ref)?.[1] : undefined;
  return name === undefined ? undefined : field(schema, 'definitions', name);
}

function resolve(node: unknown): unknown {
  const ref = field(node, '$ref');
  return ref === undefined ? node : resolve(definition(ref));
}

function isEmpty(value: unknown): boolean {
  return value === '' || value === false || value === null || value === undefined || (Array.isArray(value) && value.length === 0) || (isRecord(value) && Object.keys(value).length === 0);
}

/** What func writes back for `value` read into the type `node` describes; unknown keys are reported. */
function rewrite(value: unknown, node: unknown, path: string, unknown: string[]): unknown {
  const type = resolve(node);
  if (Array.isArray(value)) return value.map((item, i) => rewrite(item, field(type, 'items'), `${path}[${i}]`, unknown));
  if (!isRecord(value)) return value;
  const properties = field(type, 'properties');
  if (!isRecord(properties)) {
    // A Go map: yaml.v2 writes its keys sorted.
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, rewrite(value[k], field(type, 'additionalProperties'), `${path}.${k}`, unknown)]));
  }
  for (const k of Object.keys(value)) if (!(k in properties)) unknown.push(`${path}.${k}`);
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(properties)) {
    const written = rewrite(value[k], sub, `${path}.${k}`, unknown);
    if (!ALWAYS_WRITTEN.has(k) && isEmpty(written)) continue;
    out[k] = written;
  }
  return out;
}

function funcWrites(func: Record<string, unknown>): { text: string; unknown: string[] } {
  const unknown: string[] = [];
  const model = rewrite(func, schema, '', unknown);
  // time.Time: RFC 3339, unquoted (YAML 1.1 would quote it as a string).
  const text = stringify(model, { version: '1.1', indentSeq: false, lineWidth: 0 }).replace(/^created: "([^"]+)"$/m, 'created: $1');
  return { text, unknown };
}

describe('func.yaml through func\'s rewrite', () => {
  it('holds only keys func knows, so a rewrite drops nothing', () => {
    assert.deepEqual(funcWrites(loadFuncYaml()).unknown, []);
    const unknown = funcWrites({ ...loadFuncYaml(), deploy: { ...(loadFuncYaml()['deploy'] as object), replicas: 2 } }).unknown;
    assert.deepEqual(unknown, ['.deploy.replicas'], 'the model notices an unknown key');
  });

  it('is already written as func writes it: comments, key order and quoting survive a rewrite unchanged', () => {
    assert.equal(funcWrites(loadFuncYaml()).text, funcYamlText);
    assert.doesNotMatch(funcYamlText, /^\s*#/m, 'no comment: func drops them');
  });

  it('changes under kn func deploy in exactly the two lines func adds', () => {
    const image = 'quay.io/you/build-watcher@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
    const func = loadFuncYaml();
    const deployed = funcWrites({ ...func, registry: 'quay.io/you', deploy: { ...(func['deploy'] as object), image } }).text.split('\n');
    const original = funcYamlText.split('\n');
    const added = deployed.filter((line) => !original.includes(line));
    assert.deepEqual(added, ['registry: quay.io/you', `  image: ${image}`]);
    assert.deepEqual(deployed.filter((line) => !added.includes(line)), original, 'every other line as it was, in order');
  });

  it('means the same after the rewrite', () => {
    assert.deepEqual(parse(funcWrites(loadFuncYaml()).text, { version: '1.1' }), parse(funcYamlText, { version: '1.1' }));
  });

  it('explains every key in knative/func-yaml.md, and keeps .gitignore as func wants it', () => {
    const reference = readFileSync(join(REPO_ROOT, 'knative/func-yaml.md'), 'utf8');
    const leaves = (value: unknown, path: string): string[] =>
      isRecord(value) && !Array.isArray(value) ? Object.entries(value).flatMap(([k, v]) => leaves(v, path === '' ? k : `${path}.${k}`)) : [path];
    for (const path of leaves(loadFuncYaml(), '')) {
      assert.ok(reference.includes(`\`${path}\``) || reference.includes(`\`${path.split('.').slice(0, -1).join('.')}\``), `${path} is explained`);
    }
    // func appends its own block unless a line starts with /.func (client.go ensureRunDataDir).
    assert.ok(readFileSync(join(REPO_ROOT, '.gitignore'), 'utf8').split('\n').some((line) => line.startsWith('/.func')));
  });
});
