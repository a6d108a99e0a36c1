/**
 * The kustomize layout of knative/, built by the real kustomize: every overlay installs exactly
 * what its documented `oc apply -f` recipe installs, every component exactly its directory, an
 * instance kustomization outside the repository moves everything with its one `namespace:` line
 * and generates the Secret from its own file, and every overlay with every component is accepted
 * by a real API server (server-side apply, strict field validation), also through `kubectl apply -k`.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { SECRET_VARIABLES } from '../../functions/config.js';
import type { ManifestObject } from '../harness/apply.js';
import { startControlPlane } from '../harness/controlplane.js';
import type { ControlPlane } from '../harness/controlplane.js';
import { kustomizeBuild, layoutCrds } from './kustomize.js';
import { isRecord } from '../../functions/kube/object.js';
import { NAMESPACE, RECIPES, REPO_ROOT, applyStep, field, installedBy, objectKey, type KubeObject } from './manifests.js';

const OVERLAYS: readonly { dir: string; recipe: string }[] = [
  { dir: 'knative/base', recipe: 'default' },
  { dir: 'knative/variants/kafka', recipe: 'kafka' },
  { dir: 'knative/variants/direct-sink', recipe: 'direct-sink' },
  { dir: 'knative/variants/all-namespaces', recipe: 'all-namespaces' },
];
const COMPONENTS = [
  'knative/optional/imagestreams',
  'knative/optional/tekton',
  'knative/optional/shipwright',
  'knative/optional/sweep',
  'knative/optional/pull-token',
  'knative/optional/observability',
  'knative/optional/image-built-trigger',
  'knative/optional/function',
  'knative/optional/scan',
] as const;
const PINNED = 'quay.io/example/build-watcher@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding']);

const key = (o: ManifestObject): string => objectKey(o as unknown as KubeObject);
const byKey = (objects: readonly ManifestObject[]): Map<string, ManifestObject> => new Map(objects.map((o) => [key(o), o]));

/** Kustomize sorts keys and drops comments; compare what the API server would receive. */
function sameObjects(actual: readonly ManifestObject[], expected: readonly ManifestObject[], what: string): void {
  const a = byKey(actual);
  const e = byKey(expected);
  assert.deepEqual([...a.keys()].sort(), [...e.keys()].sort(), `${what}: the same objects`);
  for (const [k, object] of e) assert.deepEqual(a.get(k), object, `${what}: ${k}`);
}

interface Instance {
  readonly dir: string;
  remove(): void;
}

/**
 * An instance kustomization where the README puts it: beside a checkout of the repository (here
 * a link to it), outside the repository, with its own credentials file.
 */
function makeInstance(text: (repo: string) => string, credentials = 'THOTH_SRC_REGISTRY_USER=\nTHOTH_SRC_REGISTRY_PASSWORD=\nTHOTH_DST_REGISTRY_USER=\nTHOTH_DST_REGISTRY_PASSWORD=\n'): Instance {
  const root = mkdtempSync(join(tmpdir(), 'build-watcher-instance-'));
  symlinkSync(REPO_ROOT, join(root, 'build-watcher'));
  const dir = join(root, 'build-watcher-instance');
  mkdirSync(dir);
  writeFileSync(join(dir, 'Kustomization'), text('../build-watcher'));
  writeFileSync(join(dir, 'credentials.env'), credentials);
  return { dir, remove: () => rmSync(root, { recursive: true, force: true }) };
}

function instanceOf(options: { namespace: string; resource: string; components: readonly string[] }): (repo: string) => string {
  return (repo) =>
    [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      `namespace: ${options.namespace}`,
      'resources:',
      `  - ${repo}/${options.resource}`,
      ...(options.components.length > 0 ? ['components:', ...options.components.map((c) => `  - ${repo}/${c}`)] : []),
      'secretGenerator:',
      '  - name: build-watcher',
      '    envs: [credentials.env]',
      '    options: {disableNameSuffixHash: true}',
      'images:',
      `  - name: build-watcher`,
      `    newName: ${PINNED.split('@')[0] ?? ''}`,
      `    digest: ${PINNED.split('@')[1] ?? ''}`,
      '',
    ].join('\n');
}

function subjectsNamespaces(objects: readonly ManifestObject[]): string[] {
  return objects.flatMap((o) => {
    const subjects = o['subjects'];
    return Array.isArray(subjects) ? subjects.filter(isRecord).map((s) => String(s['namespace'])) : [];
  });
}

describe('kustomize layout (real kustomize)', { timeout: 120_000 }, () => {
  for (const overlay of OVERLAYS) {
    it(`builds ${overlay.dir} into exactly what the ${overlay.recipe} \`oc apply -f\` recipe installs`, async () => {
      const recipe = RECIPES.find((r) => r.name === overlay.recipe);
      assert.ok(recipe);
      const expected = installedBy(recipe).map((m) => m.object as unknown as ManifestObject);
      // The one setting the overlay makes that the `-f` recipe leaves to the user (README, "Watching all namespaces").
      const sweepsEverywhere = (objects: ManifestObject[]) =>
        overlay.dir.endsWith('all-namespaces')
          ? objects.map((o) => (o.kind === 'ConfigMap' && o.metadata.name === 'build-watcher' ? { ...o, data: { ...(o['data'] as Record<string, string>), BUILD_WATCHER_SWEEP_ALL_NAMESPACES: '1' } } : o))
          : objects;
      sameObjects(await kustomizeBuild(join(REPO_ROOT, overlay.dir)), sweepsEverywhere(expected), overlay.dir);
    });
  }

  for (const component of [...COMPONENTS, 'knative/variants/all-namespaces/pass-token']) {
    it(`adds with the ${component} component exactly what \`oc apply -f ${component}/\` applies`, async () => {
      const base = byKey(await kustomizeBuild(join(REPO_ROOT, 'knative/base')));
      const instance = makeInstance((repo) => `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${repo}/knative/base]\ncomponents: [${repo}/${component}]\n`);
      try {
        const added = (await kustomizeBuild(instance.dir)).filter((o) => !base.has(key(o)));
        const expected = applyStep({ path: `${component}/` }).map((m) => m.object as unknown as ManifestObject);
        if (component.endsWith('/observability')) {
          const dashboard = added.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'build-watcher-dashboard');
          assert.ok(dashboard, 'the dashboard ConfigMap');
          assert.equal(field(dashboard, 'metadata', 'labels', 'grafana_dashboard'), '1');
          assert.equal(field(dashboard, 'data', 'build-watcher.json'), readFileSync(join(REPO_ROOT, component, 'dashboards/build-watcher.json'), 'utf8'));
          sameObjects(added.filter((o) => o !== dashboard), expected, component);
        } else {
          sameObjects(added, expected, component);
        }
      } finally {
        instance.remove();
      }
    });
  }

  it('moves everything with the instance template\'s one namespace line, and generates the Secret from a file outside the repository', async () => {
    const template = readFileSync(join(REPO_ROOT, 'knative/templates/instance/Kustomization'), 'utf8');
    assert.match(template, /^namespace: build-watcher$/m);
    assert.match(template, /^ {2}- \.\.\/build-watcher\/knative\/base$/m);
    const moved = template
      .replace(/^namespace: build-watcher$/m, 'namespace: team-a')
      .replace(/^ {2}- \.\.\/build-watcher\/knative\/optional\/sweep$/m, COMPONENTS.map((c) => `  - ../build-watcher/${c}`).join('\n'));
    const credentials = readFileSync(join(REPO_ROOT, 'knative/templates/instance/credentials.env.example'), 'utf8').replace('THOTH_DST_REGISTRY_USER=', 'THOTH_DST_REGISTRY_USER=robot');
    const instance = makeInstance(() => moved, credentials);
    try {
      const objects = await kustomizeBuild(instance.dir);
      assert.ok(objects.length >= 40, `${objects.length} objects`);
      for (const o of objects) {
        if (!CLUSTER_SCOPED.has(o.kind)) assert.equal(o.metadata.namespace, 'team-a', key(o));
      }
      assert.deepEqual([...new Set(subjectsNamespaces(objects))], ['team-a'], 'every ServiceAccount subject follows');
      assert.doesNotMatch(JSON.stringify(objects), new RegExp(`"namespace":"${NAMESPACE}"`), 'nothing left behind');
      const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'build-watcher');
      const data = field(secret, 'data');
      assert.ok(isRecord(data), 'the Secret, named as func.yaml expects');
      for (const name of SECRET_VARIABLES) assert.ok(name in data, `${name} in the Secret`);
      assert.deepEqual(Object.keys(data).sort(), ['THOTH_DST_REGISTRY_PASSWORD', 'THOTH_DST_REGISTRY_USER', 'THOTH_SRC_REGISTRY_PASSWORD', 'THOTH_SRC_REGISTRY_USER']);
      assert.equal(Buffer.from(String(data['THOTH_DST_REGISTRY_USER']), 'base64').toString(), 'robot');
      const config = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'build-watcher');
      assert.equal(field(config, 'data', 'THOTH_USER_API_HOST'), 'thoth-user-api.example.com');
      assert.equal(field(config, 'data', 'BUILD_WATCHER_SWEEP_BATCH'), '200', 'the rest of config.yaml is kept');
    } finally {
      instance.remove();
    }
  });
});

/** `oc` is kubectl plus OpenShift extras; `oc apply -k` is kubectl's. Not a project dependency. */
const kubectlMissing = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).error !== undefined;

describe('kustomize layout on a real API server', { timeout: 600_000 }, () => {
  let cp: ControlPlane | undefined;

  before(async () => {
    cp = await startControlPlane();
    await cp.applyManifests(await layoutCrds());
  });

  after(async () => {
    await cp?.stop();
  });

  for (const [index, overlay] of OVERLAYS.entries()) {
    it(`accepts ${overlay.dir} with every component, moved to another namespace, the function pinned by digest`, async () => {
      assert.ok(cp);
      const namespace = `kustomize-${index}`;
      await cp.applyManifests([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }]);
      // The direct-sink variant has its own sweep PingSource, posting to the function.
      const components = COMPONENTS.filter((c) => !(overlay.recipe === 'direct-sink' && c.endsWith('/sweep')));
      const instance = makeInstance(instanceOf({ namespace, resource: overlay.dir, components }));
      try {
        const objects = await kustomizeBuild(instance.dir);
        const applied = await cp.applyManifests(objects);
        assert.deepEqual(applied.map(key).sort(), objects.map(key).sort());
        const service = applied.find((o) => o.kind === 'Service' && o.apiVersion === 'serving.knative.dev/v1' && o.metadata.name === 'build-watcher');
        assert.equal(field(service, 'spec', 'template', 'spec', 'containers', 0, 'image'), PINNED, 'the image, by digest');
        assert.ok(applied.every((o) => CLUSTER_SCOPED.has(o.kind) || o.metadata.namespace === namespace));
      } finally {
        instance.remove();
      }
    });
  }

  it('installs with the literal `kubectl apply -k` (kustomize embedded in kubectl)', { skip: kubectlMissing && 'kubectl is not installed' }, async () => {
    assert.ok(cp);
    const namespace = 'kustomize-kubectl';
    await cp.applyManifests([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }]);
    // The scan component's ClusterRoleBinding is one per cluster (README, "Scanning every built image with
    // Tekton"): the instances above hold it, and another field manager may not take it over.
    const instance = makeInstance(instanceOf({ namespace, resource: 'knative/variants/kafka', components: COMPONENTS.filter((c) => !c.endsWith('/scan')) }));
    try {
      const expected = await kustomizeBuild(instance.dir);
      const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', cp.adminKubeconfigPath, 'apply', '--server-side', '-k', instance.dir, '-o', 'name']);
      const kinds = new Set(stdout.trim().split('\n').map((line) => line.split('/')[0]));
      assert.equal(stdout.trim().split('\n').length, expected.length, stdout);
      assert.ok(kinds.has('broker.eventing.knative.dev') && kinds.has('prometheusrule.monitoring.coreos.com'), stdout);
    } finally {
      instance.remove();
    }
  });
});
