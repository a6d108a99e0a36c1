/**
 * func.yaml: valid for `kn func` (knative/func's own JSON schema), buildable with a Node the
 * runtime supports, configured only through the ConfigMap and Secret in knative/, and deployed
 * cluster-local with the concurrency the function itself enforces.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { CONFIG_VARIABLES, SECRET_VARIABLES } from '../../functions/config.js';
import { isRecord } from '../../functions/kube/object.js';
import { NAMESPACE, RECIPES, REPO_ROOT, field, installedBy, loadAllManifests, loadFuncYaml } from './manifests.js';

const func = loadFuncYaml();
const manifests = loadAllManifests();
const schema: unknown = JSON.parse(
  readFileSync(join(REPO_ROOT, 'test/manifests/knative-func-schema/func_yaml-schema.json'), 'utf8'),
);

/** faas-js-runtime's own variables; FUNC_PORT stays unset so the runtime keeps 8080, which Knative probes. */
const RUNTIME_VARIABLES = new Set(['FUNC_BODY_LIMIT', 'FUNC_LOG_LEVEL', 'FUNC_INCLUDE_RAW']);
const REFERENCE = /^\{\{ (secret|configMap):([a-z0-9-]+):([A-Za-z_][A-Za-z0-9_]*) \}\}$/;

function validator() {
  // The schema's RunAsUser has a `pattern` on an integer, which strict typing would refuse.
  const ajv = new Ajv.default({ allErrors: true, strictTypes: false });
  addFormats.default(ajv);
  assert.ok(isRecord(schema));
  return ajv.compile(schema);
}

function envs(): { name: string; value: string }[] {
  const list = field(func, 'run', 'envs');
  assert.ok(Array.isArray(list));
  return list.map((e) => {
    const name = field(e, 'name');
    const value = field(e, 'value');
    assert.ok(typeof name === 'string' && typeof value === 'string', 'every env has a name and a string value');
    return { name, value };
  });
}

function configData(kind: 'ConfigMap' | 'Secret'): Record<string, unknown> {
  const object = manifests.find((m) => m.object.kind === kind && m.object.metadata.name === 'build-watcher')?.object;
  const data = field(object, kind === 'ConfigMap' ? 'data' : 'stringData');
  assert.ok(isRecord(data), `${kind} build-watcher exists in knative/`);
  return data;
}

describe('func.yaml', () => {
  it('is valid against the knative/func schema', () => {
    const validate = validator();
    assert.equal(validate(func), true, JSON.stringify(validate.errors));
    // The validator is live: a field kn func does not know is refused.
    assert.equal(validate({ ...func, deploy: { ...(func['deploy'] as object), replicas: 2 } }), false);
    assert.equal(validate({ ...func, created: 'yesterday' }), false, 'created must be a date-time');
  });

  it('is a TypeScript CloudEvent function named build-watcher at the current spec version', () => {
    assert.equal(func['name'], 'build-watcher');
    assert.equal(func['runtime'], 'typescript');
    assert.equal(func['invoke'], 'cloudevent');
    assert.equal(func['specVersion'], '0.36.0');
  });

  it('builds with a Node the runtime supports, and compiles TypeScript with either builder', () => {
    assert.equal(field(func, 'build', 'builder'), 's2i');
    const image = field(func, 'build', 'builderImages', 's2i');
    assert.match(String(image), /^registry\.access\.redhat\.com\/ubi\d+\/nodejs-(22|24)(-minimal)?$/);
    const pkg: unknown = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    const major = /nodejs-(\d+)/.exec(String(image))?.[1] ?? '';
    assert.match(String(field(pkg, 'engines', 'node')), new RegExp(`\\^${major}\\b`), 'package.json engines allow the builder Node');
    assert.match(String(field(pkg, 'scripts', 'build')), /tsc/, 's2i runs `npm run build`');
    assert.match(String(field(pkg, 'scripts', 'start')), /^faas-js-runtime /, 's2i runs `npm start`');
    assert.deepEqual(field(func, 'build', 'buildEnvs'), [{ name: 'BP_NODE_RUN_SCRIPTS', value: 'build' }]);
  });

  it('reads every setting from the ConfigMap or Secret, credentials only from the Secret', () => {
    const configMap = configData('ConfigMap');
    const secret = configData('Secret');
    const seen = new Set<string>();
    for (const { name, value } of envs()) {
      assert.ok(!seen.has(name), `${name} is set once`);
      seen.add(name);
      if (name.startsWith('FUNC_')) {
        assert.ok(RUNTIME_VARIABLES.has(name), `${name} is a faas-js-runtime variable`);
        continue;
      }
      assert.ok(CONFIG_VARIABLES.includes(name), `${name} is read by functions/config.ts`);
      const ref = REFERENCE.exec(value);
      assert.ok(ref, `${name} comes from a ConfigMap or Secret, not a literal`);
      const [, source, object, key] = ref;
      assert.equal(object, 'build-watcher');
      assert.equal(key, name);
      assert.equal(source, SECRET_VARIABLES.has(name) || /REGISTRY_(USER|PASSWORD)$/.test(name) ? 'secret' : 'configMap', name);
      assert.ok(key in (source === 'secret' ? secret : configMap), `${source} build-watcher has ${key}`);
    }
    const expected = [...Object.keys(configMap), ...Object.keys(secret)];
    assert.deepEqual([...seen].filter((n) => !n.startsWith('FUNC_')).sort(), expected.sort(), 'every shipped key reaches the function');
  });

  it('lets the runtime accept Build events over 1 MiB, logs at info, and keeps port 8080', () => {
    const values = new Map(envs().map((e) => [e.name, e.value]));
    const limit = Number(values.get('FUNC_BODY_LIMIT'));
    assert.ok(limit >= 2 * 1024 * 1024 && limit <= 16 * 1024 * 1024, `body limit ${limit}`);
    assert.equal(values.get('FUNC_LOG_LEVEL'), 'info');
    assert.equal(values.has('FUNC_PORT'), false);
  });

  it('adds no key that faas-js-runtime would take for one of its options', () => {
    // The runtime spreads ./func.yaml over its options (index.js loadConfig).
    const require = createRequire(import.meta.url);
    const runtimeSource = readFileSync(require.resolve('faas-js-runtime'), 'utf8');
    assert.match(runtimeSource, /\.\.\.readFuncYaml\(/, 'the runtime still reads func.yaml this way');
    for (const option of ['logLevel', 'port', 'bodyLimit', 'includeRaw', 'config']) {
      assert.equal(option in func, false, option);
    }
  });

  it('deploys cluster-local, into build-watcher, as the function service account, scaling 0..max', () => {
    assert.equal(func['namespace'], NAMESPACE);
    assert.equal(field(func, 'deploy', 'namespace'), NAMESPACE);
    const account = field(func, 'deploy', 'serviceAccountName');
    assert.ok(
      installedBy(RECIPES[0]!).some((m) => m.object.kind === 'ServiceAccount' && m.object.metadata.name === account),
      `${String(account)} is created by the default install`,
    );
    const labels = field(func, 'deploy', 'labels');
    assert.ok(Array.isArray(labels));
    assert.ok(labels.some((l) => field(l, 'key') === 'networking.knative.dev/visibility' && field(l, 'value') === 'cluster-local'));
    assert.equal(field(func, 'deploy', 'options', 'scale', 'min'), 0);
    const max = field(func, 'deploy', 'options', 'scale', 'max');
    assert.ok(typeof max === 'number' && max >= 1 && max <= 20);
    const concurrency = field(func, 'deploy', 'options', 'resources', 'limits', 'concurrency');
    assert.ok(typeof concurrency === 'number' && concurrency >= 1 && concurrency <= 64, 'as THOTH_BUILD_WATCHER_WORKERS allows');
    assert.ok(field(func, 'deploy', 'options', 'resources', 'limits', 'memory'), 'a memory limit');
  });
});
