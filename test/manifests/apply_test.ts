/**
 * knative/ against a real kube-apiserver with Knative's, Tekton's and Shipwright's real CRDs
 * (and Knative Serving's Service CRD): server-side apply with strict field validation, RBAC as
 * the real authorizer evaluates it, and the real ApiServerSource adapter running as our
 * adapter service account, whose events must pass our Trigger filters.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { isRecord } from '../../functions/kube/object.js';
import type { ManifestObject } from '../harness/apply.js';
import { startControlPlane } from '../harness/controlplane.js';
import type { ControlPlane } from '../harness/controlplane.js';
import { startEventSink } from '../harness/event-sink.js';
import { layoutCrds } from './kustomize.js';
import type { EventSink, ReceivedEvent } from '../harness/event-sink.js';
import {
  KNATIVE_DIR,
  NAMESPACE,
  RECIPES,
  REPO_ROOT,
  field,
  installedBy,
  loadAllManifests,
  manifestFiles,
  moveNamespace,
  ofKind,
  triggerMatches,
  type KubeObject,
  type Manifest,
} from './manifests.js';

/** The parts of `live` that `shape` names: the object as written, without server defaults. */
function written(live: unknown, shape: unknown): unknown {
  if (Array.isArray(shape) && Array.isArray(live)) return live.map((item, i) => written(item, shape[i]));
  if (isRecord(shape) && isRecord(live)) return Object.fromEntries(Object.keys(shape).filter((k) => k in live).map((k) => [k, written(live[k], shape[k])]));
  return live;
}

function asObjects(manifests: readonly Manifest[]): ManifestObject[] {
  return manifests.map((m) => m.object as unknown as ManifestObject);
}

async function createNamespace(cp: ControlPlane, name: string): Promise<void> {
  await cp.applyManifests([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }]);
}

/** Asks the real authorizer, as the controller's access check does. */
async function may(
  cp: ControlPlane,
  account: string,
  request: { namespace: string; group: string; resource: string; verb: string; subresource?: string },
): Promise<boolean> {
  const review = await cp.admin.json({
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    body: {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${NAMESPACE}:${account}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'],
        resourceAttributes: request,
      },
    },
  });
  return field(review, 'status', 'allowed') === true;
}

/** `oc` is kubectl plus OpenShift extras; `oc apply` is kubectl's. Not a project dependency. */
const kubectlMissing = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).error !== undefined;

/** A copy of knative/ (links kept, as git checks them out) moved to `namespace` with the documented substitution. */
function movedCopy(namespace: string): string {
  const root = mkdtempSync(join(tmpdir(), 'build-watcher-knative-'));
  cpSync(KNATIVE_DIR, join(root, 'knative'), { recursive: true, verbatimSymlinks: true });
  for (const file of manifestFiles(KNATIVE_DIR, { recursive: true })) {
    writeFileSync(join(root, relative(REPO_ROOT, file)), moveNamespace(readFileSync(file, 'utf8'), namespace));
  }
  return root;
}

/** Every build-watcher object the API server holds in `namespace` (and cluster-wide), as kind/name. */
async function installedObjects(cp: ControlPlane, namespace: string, kinds: readonly { apiVersion: string; kind: string }[]): Promise<Map<string, unknown>> {
  const found = new Map<string, unknown>();
  for (const { apiVersion, kind } of kinds) {
    const clusterScoped = kind.startsWith('Cluster');
    const path = await cp.pathFor(apiVersion, kind, clusterScoped ? undefined : namespace);
    const list = await cp.admin.json({ path: `${path}?labelSelector=${encodeURIComponent('app.kubernetes.io/part-of=build-watcher')}` });
    const items = field(list, 'items');
    for (const item of Array.isArray(items) ? items : []) {
      if (clusterScoped && !JSON.stringify(field(item, 'subjects') ?? []).includes(`"${namespace}"`) && kind === 'ClusterRoleBinding') continue;
      if (clusterScoped && kind === 'ClusterRole') continue; // shared by name across namespaces
      found.set(`${kind}/${String(field(item, 'metadata', 'name'))}`, item);
    }
  }
  return found;
}

function attributesOf(event: ReceivedEvent): Record<string, string> {
  return event.attributes;
}

describe('knative/ on a real API server', { timeout: 900_000 }, () => {
  let cp: ControlPlane | undefined;
  let sink: EventSink | undefined;

  before(async () => {
    cp = await startControlPlane();
    // Knative Serving's Service (dead letters, the GitOps function), ServiceMonitor, PrometheusRule.
    await cp.applyManifests(await layoutCrds());
    sink = await startEventSink();
  });

  after(async () => {
    await sink?.close();
    await cp?.stop();
  });

  it('accepts every object in knative/, templates, add-ons and variants included', async () => {
    assert.ok(cp);
    await createNamespace(cp, NAMESPACE);
    const objects = asObjects(loadAllManifests());
    const applied = await cp.applyManifests(objects);
    assert.equal(applied.length, objects.length);
    // Strict field validation is live: a misspelt field is refused, not dropped.
    const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === 'build-watcher');
    assert.ok(secret);
    await assert.rejects(cp.applyManifests([{ ...secret, stringDta: {} }]), /stringDta/);
  });

  for (const [index, recipe] of RECIPES.entries()) {
    it(`accepts the ${recipe.name} install moved to another namespace by the documented substitution`, async () => {
      assert.ok(cp);
      const namespace = `build-watcher-recipe-${index}`;
      await createNamespace(cp, namespace);
      const objects = asObjects(installedBy(recipe, namespace));
      assert.ok(objects.every((o) => o.kind.startsWith('Cluster') || o.metadata.namespace === namespace));
      const applied = await cp.applyManifests(objects);
      assert.deepEqual(
        applied.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(),
        objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort(),
      );
    });
  }

  it('authorises each actor for its work and nothing more (default install)', async () => {
    assert.ok(cp);
    await cp.applyManifests(asObjects(installedBy(RECIPES[0]!)));
    const ns = NAMESPACE;
    const builds = { namespace: ns, group: 'build.openshift.io', resource: 'builds' };
    for (const verb of ['get', 'list', 'watch']) assert.equal(await may(cp, 'build-watcher-adapter', { ...builds, verb }), true, verb);
    for (const verb of ['patch', 'create', 'delete']) assert.equal(await may(cp, 'build-watcher-adapter', { ...builds, verb }), false, verb);

    const fn = 'build-watcher-function';
    for (const verb of ['get', 'list', 'patch']) assert.equal(await may(cp, fn, { ...builds, verb }), true, verb);
    assert.equal(await may(cp, fn, { ...builds, verb: 'get', subresource: 'log' }), true, 'builds/log');
    assert.equal(await may(cp, fn, { namespace: ns, group: '', resource: 'events', verb: 'create' }), true);
    assert.equal(await may(cp, fn, { namespace: ns, group: 'events.k8s.io', resource: 'events', verb: 'create' }), true);
    assert.equal(await may(cp, fn, { namespace: ns, group: 'image.openshift.io', resource: 'imagestreams', verb: 'get' }), true);
    for (const verb of ['update', 'delete', 'create', 'watch']) assert.equal(await may(cp, fn, { ...builds, verb }), false, verb);
    for (const account of ['build-watcher-adapter', fn, 'build-watcher-dead-letters']) {
      assert.equal(await may(cp, account, { namespace: ns, group: '', resource: 'secrets', verb: 'get' }), false, `${account} secrets`);
      assert.equal(await may(cp, account, { namespace: 'kube-system', group: 'build.openshift.io', resource: 'builds', verb: 'get' }), false);
    }
  });

  for (const [index, recipe] of RECIPES.entries()) {
    it(`installs the ${recipe.name} recipe with the literal \`oc apply -f\` commands`, { skip: kubectlMissing && 'kubectl is not installed' }, async () => {
      assert.ok(cp);
      const namespace = `build-watcher-kubectl-${index}`;
      await createNamespace(cp, namespace);
      const copy = movedCopy(namespace);
      try {
        for (const step of recipe.steps) {
          const args = ['--kubeconfig', cp.adminKubeconfigPath, 'apply', '-f', join(copy, step.path), ...(step.selector ? ['-l', step.selector] : [])];
          await promisify(execFile)('kubectl', args, { cwd: copy });
        }
      } finally {
        rmSync(copy, { recursive: true, force: true });
      }
      const expected = installedBy(recipe, namespace).map((m) => m.object);
      const kinds = [...new Map(loadAllManifests().map((m) => [`${m.object.apiVersion}/${m.object.kind}`, { apiVersion: m.object.apiVersion, kind: m.object.kind }])).values()];
      const actual = await installedObjects(cp, namespace, kinds);
      const wanted = expected.filter((o) => o.kind !== 'ClusterRole');
      assert.deepEqual([...actual.keys()].sort(), wanted.map((o) => `${o.kind}/${o.metadata.name}`).sort(), 'kubectl selected what the recipe model says');
      for (const object of wanted) {
        const live = actual.get(`${object.kind}/${object.metadata.name}`);
        // The later step's version won (e.g. the Kafka Broker, the direct-sink source).
        // What we wrote, as written; the API server may add defaults (a core Service's clusterIP).
        if (object['spec'] !== undefined) assert.deepEqual(written(field(live, 'spec'), object['spec']), object['spec'], `${object.kind}/${object.metadata.name} spec`);
        assert.deepEqual(
          field(live, 'metadata', 'annotations', 'eventing.knative.dev/broker.class'),
          object.metadata.annotations?.['eventing.knative.dev/broker.class'],
        );
      }
    });
  }

  it('runs the real adapter as build-watcher-adapter, and its events pass exactly our Build Triggers', async () => {
    assert.ok(cp && sink);
    const installed = installedBy(RECIPES[0]!);
    const [source] = ofKind(installed, 'ApiServerSource');
    assert.ok(source);
    const resources = field(source, 'spec', 'resources');
    assert.ok(Array.isArray(resources));
    const adapter = await cp.startAdapter({
      sink: sink.url,
      namespace: NAMESPACE,
      name: source.metadata.name,
      mode: field(source, 'spec', 'mode') === 'Resource' ? 'Resource' : 'Reference',
      resources: resources.filter(isRecord).map((r) => ({ apiVersion: String(r['apiVersion']), kind: String(r['kind']) })),
      kubeconfigPath: await cp.kubeconfigForServiceAccount(NAMESPACE, String(field(source, 'spec', 'serviceAccountName'))),
    });
    try {
      const triggers = ofKind(installed, 'Trigger');
      const routedTo = (event: ReceivedEvent) => triggers.filter((t: KubeObject) => triggerMatches(t, attributesOf(event))).map((t) => t.metadata.name);
      const build = {
        apiVersion: 'build.openshift.io/v1',
        kind: 'Build',
        metadata: { name: 'app-1', namespace: NAMESPACE },
        spec: { strategy: { type: 'Source' }, output: { to: { kind: 'DockerImage', name: 'registry.invalid/app:latest' } } },
      };
      await cp.applyManifests([build]);
      const added = await sink.waitForEvent((e) => e.attributes['name'] === 'app-1' && e.attributes['type']?.endsWith('.add') === true);
      assert.deepEqual(routedTo(added), ['build-watcher-build-add']);
      await cp.applyManifests([{ ...build, metadata: { ...build.metadata, annotations: { touched: 'yes' } } }]);
      const updated = await sink.waitForEvent((e) => e.attributes['name'] === 'app-1' && e.attributes['type']?.endsWith('.update') === true);
      assert.deepEqual(routedTo(updated), ['build-watcher-build-update']);
      assert.equal(JSON.parse(updated.body).metadata.annotations.touched, 'yes', 'Resource mode: the whole object');
    } finally {
      await adapter.stop();
    }
  });
});
