/**
 * Offline invariants of knative/: what the API server's schemas cannot see (Knative's admission
 * webhooks do not run in the test control plane) and what only the whole set shows: least
 * privilege, routing, delivery guarantees, configuration completeness, no credentials.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES, SECRET_VARIABLES, loadConfig } from '../../functions/config.js';
import { artifactEvents, CDEVENT_TYPES } from '../../functions/events/cdevents.js';
import { isRecord } from '../../functions/kube/object.js';
import { replyFor } from '../../functions/reply.js';
import {
  APISERVER_RESOURCE_PREFIX,
  PING_SOURCE_TYPE,
  SWEEP_REQUESTED_TYPE,
} from '../../functions/events/types.js';
import {
  KNATIVE_DIR,
  NAMESPACE,
  RECIPES,
  REPO_ROOT,
  field,
  installedBy,
  loadAllManifests,
  loadFuncYaml,
  manifestFiles,
  moveNamespace,
  objectKey,
  ofKind,
  parseSelector,
  parseYamlStream,
  triggerMatches,
  type KubeObject,
  type Manifest,
} from './manifests.js';
import { allows, grants, pluralOf, rulesOf } from './rbac.js';

const all = loadAllManifests();
const FUNCTION_SERVICE = 'build-watcher';
const FUNCTION_SA = { namespace: NAMESPACE, name: 'build-watcher-function' };
const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'Namespace', 'CustomResourceDefinition']);
const ALL_NAMESPACES_DIR = 'knative/variants/all-namespaces/';
/** The scan add-on's EventListener creates TaskRuns: its own rules, checked exactly in their own test. */
const SCAN_DIR = 'knative/optional/scan/';
const SCAN_LISTENER_SA = { namespace: NAMESPACE, name: 'build-watcher-scan-listener' };
/** Test-only: acting on the event payload lets anyone who reaches the function forge a Build. */
const NEVER_DEPLOYED = 'BUILD_WATCHER_TRUST_EVENT_PAYLOAD';
/** Set by a Knative SinkBinding (knative/optional/sweep/), never by the ConfigMap. */
const SET_BY_KNATIVE = 'K_SINK';

type Attributes = Readonly<Record<string, string>>;

function apiServerEvent(action: string, apiVersion: string, kind: string): Attributes {
  return {
    specversion: '1.0',
    id: 'b7d0a1f2-0000-4000-8000-000000000000',
    source: 'https://172.30.0.1:443',
    type: `${APISERVER_RESOURCE_PREFIX}${action}`,
    subject: `/apis/${apiVersion}/namespaces/${NAMESPACE}/${pluralOf(kind)}/app-1`,
    datacontenttype: 'application/json',
    kind,
    apiversion: apiVersion,
    name: 'app-1',
    namespace: NAMESPACE,
  };
}

function matching(manifests: readonly Manifest[], event: Attributes): string[] {
  return ofKind(manifests, 'Trigger')
    .filter((t) => triggerMatches(t, event))
    .map((t) => t.metadata.name);
}

/** The attributes of a CloudEvent the function really replies with, read as a Broker would. */
async function replyAttributes(kind: 'submitted' | 'refused'): Promise<Attributes> {
  const object = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NAMESPACE, name: 'app-1', uid: 'u-1' };
  const event = await (kind === 'refused'
    ? replyFor({ kind: 'refused', object, reason: 'invalid image reference' })
    : replyFor({ kind: 'submitted', object, images: [] }));
  assert.ok(event !== undefined && 'type' in event, 'the function replies to submissions and refusals with a CloudEvent');
  assert.match(String(event.type), /^dev\.build-watcher\.analysis\./);
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(event)) {
    if (name !== 'data' && name !== 'data_base64' && (typeof value === 'string' || typeof value === 'number')) {
      attributes[name] = String(value);
    }
  }
  return attributes;
}

/** ISO-8601 durations as Knative accepts them (PnDTnHnMnS), in milliseconds. */
function durationMs(value: unknown): number {
  assert.equal(typeof value, 'string');
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(String(value));
  assert.ok(match && value !== 'P' && value !== 'PT', `${String(value)} is an ISO-8601 duration`);
  const [, d = '0', h = '0', m = '0', s = '0'] = match;
  return ((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60_000 + Number(s) * 1000;
}

function refResolves(manifests: readonly Manifest[], ref: unknown): boolean {
  const apiVersion = field(ref, 'apiVersion');
  const kind = field(ref, 'kind');
  const name = field(ref, 'name');
  if (field(ref, 'namespace') !== undefined) return false; // same namespace only
  // The function's Knative Service is created by `kn func deploy`, not by these manifests.
  if (apiVersion === 'serving.knative.dev/v1' && kind === 'Service' && name === FUNCTION_SERVICE) return true;
  return manifests.some((m) => m.object.apiVersion === apiVersion && m.object.kind === kind && m.object.metadata.name === name);
}

function effectiveDelivery(manifests: readonly Manifest[], trigger: KubeObject): unknown {
  const own = field(trigger, 'spec', 'delivery');
  if (own !== undefined) return own;
  const broker = ofKind(manifests, 'Broker').find((b) => b.metadata.name === field(trigger, 'spec', 'broker'));
  return field(broker, 'spec', 'delivery');
}

describe('knative/ files', () => {
  it('parse the same under YAML 1.1 and 1.2, every document a Kubernetes object', () => {
    const files = manifestFiles(KNATIVE_DIR, { recursive: true });
    assert.ok(files.length >= 15, `found ${files.length} files`);
    assert.ok(all.length >= 40, `found ${all.length} objects`);
    assert.throws(() => parseYamlStream('a: yes\n', 'sample.yaml'), /YAML 1.1 and 1.2/);
  });

  it('label every object so that the documented `-l` selectors pick the right ones', () => {
    const components = new Set(['rbac', 'config', 'broker', 'source', 'trigger', 'dead-letters', 'monitoring', 'function', 'scan']);
    for (const { file, object } of all) {
      const labels = object.metadata.labels ?? {};
      assert.equal(labels['app.kubernetes.io/part-of'], 'build-watcher', `${file} ${object.kind}/${object.metadata.name}`);
      assert.ok(components.has(labels['app.kubernetes.io/component'] ?? ''), `${file} ${object.metadata.name} has a known component`);
    }
  });

  it('put every namespaced object in build-watcher, spelled so one substitution moves them all', () => {
    for (const { file, object } of all) {
      if (CLUSTER_SCOPED.has(object.kind)) assert.equal(object.metadata.namespace, undefined, `${file} ${object.metadata.name}`);
      else assert.equal(object.metadata.namespace, NAMESPACE, `${file} ${object.kind}/${object.metadata.name}`);
    }
    const moved = (text: string) => moveNamespace(text, 'elsewhere');
    const namespaces = (value: unknown): string[] => {
      if (Array.isArray(value)) return value.flatMap(namespaces);
      if (!isRecord(value)) return [];
      return Object.entries(value).flatMap(([k, v]) => (k === 'namespace' && typeof v === 'string' ? [v] : namespaces(v)));
    };
    for (const file of [...manifestFiles(KNATIVE_DIR, { recursive: true }), join(REPO_ROOT, 'func.yaml')]) {
      const docs = parseYamlStream(moved(readFileSync(file, 'utf8')), file);
      const left = namespaces(docs).filter((ns) => ns === NAMESPACE);
      assert.deepEqual(left, [], `${file}: every namespace reference moves`);
    }
  });

  it('give each object one name per recipe, and document only recipes that are modelled here', () => {
    for (const recipe of RECIPES) {
      const installed = installedBy(recipe);
      assert.equal(new Set(installed.map((m) => objectKey(m.object))).size, installed.length, recipe.name);
    }
    const modelled = new Set(RECIPES.flatMap((r) => r.steps.map((s) => `${s.path}|${s.selector ?? ''}`)));
    let commands = 0;
    for (const file of manifestFiles(KNATIVE_DIR, { recursive: true })) {
      for (const [, path = '', selector] of readFileSync(file, 'utf8').matchAll(/oc apply -f ([\w./-]+)(?: -l '([^']+)')?/g)) {
        commands++;
        if (selector === undefined && path.startsWith('knative/optional/')) continue; // add-ons, modelled as a whole
        assert.ok(modelled.has(`${path}|${selector ?? ''}`), `${file}: \`oc apply -f ${path} -l '${selector ?? ''}'\` is a modelled recipe step`);
        if (selector !== undefined) parseSelector(selector);
      }
    }
    assert.ok(commands >= 6, 'the variants say how to install them');
  });

  it('select as kubectl does', () => {
    const sel = parseSelector('app.kubernetes.io/component notin (broker,dead-letters),app.kubernetes.io/part-of=build-watcher');
    assert.equal(sel({ 'app.kubernetes.io/component': 'rbac', 'app.kubernetes.io/part-of': 'build-watcher' }), true);
    assert.equal(sel({ 'app.kubernetes.io/component': 'broker', 'app.kubernetes.io/part-of': 'build-watcher' }), false);
    assert.equal(sel({ 'app.kubernetes.io/component': 'rbac' }), false);
    assert.equal(parseSelector('a!=b')({}), true);
    assert.equal(parseSelector('a in (b,c)')({}), false);
  });
});

describe('RBAC', () => {
  it('has no cluster-wide object outside the all-namespaces variant and the scan listener\'s read of cluster-scoped Triggers kinds', () => {
    for (const { file, object } of all) {
      if (object.kind === 'ClusterRole' || object.kind === 'ClusterRoleBinding') {
        assert.ok(file.startsWith(ALL_NAMESPACES_DIR) || file.startsWith(SCAN_DIR), `${file}: ${object.kind} ${object.metadata.name}`);
      }
    }
  });

  it('binds no broad role: only system:image-puller and roles defined beside the binding', () => {
    for (const { file, object } of all) {
      if (object.kind !== 'RoleBinding' && object.kind !== 'ClusterRoleBinding') continue;
      const kind = field(object, 'roleRef', 'kind');
      const name = field(object, 'roleRef', 'name');
      const definedHere = all.some((m) => m.file === file && m.object.kind === kind && m.object.metadata.name === name);
      assert.ok(definedHere || (kind === 'ClusterRole' && name === 'system:image-puller'), `${file}: ${object.metadata.name} -> ${String(kind)} ${String(name)}`);
    }
  });

  it('grants no secrets, no wildcards, and only read, patch of watched kinds, and event creation', () => {
    const patchable = new Set(['builds', 'imagestreams', 'taskruns', 'pipelineruns', 'buildruns']);
    for (const { file, object } of all) {
      if (object.kind !== 'Role' && object.kind !== 'ClusterRole') continue;
      if (file.startsWith(SCAN_DIR)) continue; // exactly, below
      const rules = rulesOf(object);
      assert.ok(rules.length > 0, `${file}: ${object.metadata.name} has rules`);
      for (const rule of rules) {
        const where = `${file}: ${object.metadata.name} ${JSON.stringify(rule)}`;
        assert.ok(![...rule.apiGroups, ...rule.resources, ...rule.verbs].includes('*'), where);
        assert.ok(!rule.resources.some((r) => r === 'secrets' || r.startsWith('secrets/') || r === 'serviceaccounts/token'), where);
        assert.equal(field(object, 'aggregationRule'), undefined, where);
        for (const verb of rule.verbs) {
          assert.ok(['get', 'list', 'watch', 'patch', 'create'].includes(verb), where);
          if (verb === 'create') assert.deepEqual(rule.resources, ['events'], where);
          if (verb === 'patch') assert.ok(rule.resources.every((r) => patchable.has(r)), where);
        }
      }
    }
  });

  it('gives each actor of the default install exactly what it needs', () => {
    const installed = installedBy(RECIPES[0]!);
    assert.deepEqual(grants(installed, { namespace: NAMESPACE, name: 'build-watcher-adapter' }, NAMESPACE), [
      'build.openshift.io/builds:get',
      'build.openshift.io/builds:list',
      'build.openshift.io/builds:watch',
    ]);
    assert.deepEqual(grants(installed, FUNCTION_SA, NAMESPACE), [
      '/events:create',
      '/imagestreams/layers:get',
      'build.openshift.io/builds/log:get',
      'build.openshift.io/builds:get',
      'build.openshift.io/builds:list',
      'build.openshift.io/builds:patch',
      'events.k8s.io/events:create',
      'image.openshift.io/imagestreams/layers:get',
      'image.openshift.io/imagestreams:get',
      'image.openshift.io/imagestreams:list',
    ]);
    assert.deepEqual(grants(installed, FUNCTION_SA, 'another-namespace'), [], 'nothing outside its namespace');
    assert.deepEqual(grants(installed, { namespace: NAMESPACE, name: 'build-watcher-dead-letters' }, NAMESPACE), []);
  });

  for (const recipe of RECIPES) {
    it(`lets every source's adapter pass the ApiServerSource access check (${recipe.name})`, () => {
      const installed = installedBy(recipe);
      for (const source of ofKind(installed, 'ApiServerSource')) {
        const account = { namespace: NAMESPACE, name: String(field(source, 'spec', 'serviceAccountName')) };
        assert.ok(installed.some((m) => m.object.kind === 'ServiceAccount' && m.object.metadata.name === account.name), account.name);
        const allNamespaces = isRecord(field(source, 'spec', 'namespaceSelector'));
        const namespaces = allNamespaces ? [NAMESPACE, 'any-other-namespace'] : [NAMESPACE];
        const resources = field(source, 'spec', 'resources');
        assert.ok(Array.isArray(resources) && resources.length > 0);
        for (const resource of resources) {
          const [group = '', version] = String(field(resource, 'apiVersion')).split('/');
          assert.ok(version, 'apiVersion has a group');
          const plural = pluralOf(String(field(resource, 'kind')));
          for (const namespace of namespaces) {
            for (const verb of ['get', 'list', 'watch']) {
              assert.ok(allows(installed, account, { namespace, group, resource: plural, verb }), `${source.metadata.name}: ${verb} ${plural} in ${namespace}`);
            }
            // What the function does with every object a source delivers.
            for (const verb of ['get', 'list', 'patch']) {
              assert.ok(allows(installed, FUNCTION_SA, { namespace, group, resource: plural, verb }), `function: ${verb} ${plural} in ${namespace}`);
            }
            assert.ok(allows(installed, FUNCTION_SA, { namespace, group: '', resource: 'events', verb: 'create' }));
          }
        }
      }
    });
  }

  it('gives the scan EventListener Tekton Triggers\' documented roles, narrowed: read Triggers objects and ConfigMaps, create TaskRuns', () => {
    const installed = installedBy(RECIPES.find((r) => r.name.includes('optional'))!);
    const triggersRead = ['eventlisteners', 'interceptors', 'triggerbindings', 'triggers', 'triggertemplates'].flatMap((r) => ['get', 'list', 'watch'].map((v) => `triggers.tekton.dev/${r}:${v}`));
    const clusterRead = ['clusterinterceptors', 'clustertriggerbindings'].flatMap((r) => ['get', 'list', 'watch'].map((v) => `triggers.tekton.dev/${r}:${v}`));
    assert.deepEqual(grants(installed, SCAN_LISTENER_SA, NAMESPACE), [
      '/configmaps:get', '/configmaps:list', '/configmaps:watch', 'tekton.dev/taskruns:create', ...clusterRead, ...triggersRead,
    ].sort());
    assert.deepEqual(grants(installed, SCAN_LISTENER_SA, 'another-namespace'), clusterRead.sort(), 'only the cluster-scoped kinds elsewhere');
    for (const account of [FUNCTION_SA, { namespace: NAMESPACE, name: 'build-watcher-adapter' }]) {
      assert.ok(!allows(installed, account, { namespace: NAMESPACE, group: 'tekton.dev', resource: 'taskruns', verb: 'create' }), account.name);
    }
  });

  it('binds each scan TaskRun to one artifact.published as the function sends it: its ce-id, its image by digest, its object', () => {
    const binding = all.find((m) => m.file === `${SCAN_DIR}eventlistener.yaml` && m.object.kind === 'TriggerBinding')?.object;
    const params = field(binding, 'spec', 'params');
    assert.ok(Array.isArray(params));
    const digest = `sha256:${'cd'.repeat(32)}`;
    const object = { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', namespace: 'ns', name: 'run-1', uid: 'u-1' };
    const [event] = artifactEvents({ object, image: { registry: 'registry.example:5000', repository: 'ns/app', digest } }, ['published'], new Date());
    assert.ok(event !== undefined);
    // Tekton Triggers' `$(body.a.b)` and `$(header.Name)`, for the plain paths the binding uses.
    const headers: Record<string, string> = { 'ce-id': event.id, 'ce-type': event.type };
    const resolve = (value: string) => value.replace(/\$\((body|header)\.([A-Za-z0-9.-]+)\)/g, (_, root: string, path: string) => {
      const found = root === 'header' ? headers[path.toLowerCase()] : path.split('.').reduce<unknown>((at, key) => (isRecord(at) ? at[key] : undefined), event.data);
      assert.equal(typeof found, 'string', `${root}.${path} is in the event`);
      return found as string;
    });
    assert.deepEqual(Object.fromEntries(params.map((p) => [field(p, 'name'), resolve(String(field(p, 'value')))])),
      { 'event-id': event.id, image: `registry.example:5000/ns/app@${digest}`, object: 'PipelineRun/ns/run-1' });
  });

  it('ships a scan Task whose params are image, severity and object, read by its script from the environment, never spliced in', () => {
    const task = all.find((m) => m.file === `${SCAN_DIR}task.yaml`)?.object;
    const params = field(task, 'spec', 'params');
    assert.ok(Array.isArray(params));
    assert.deepEqual(params.map((p) => [field(p, 'name'), field(p, 'default')]), [['image', undefined], ['severity', 'HIGH,CRITICAL'], ['object', '']]);
    const steps = field(task, 'spec', 'steps');
    assert.ok(Array.isArray(steps) && steps.length > 0);
    for (const step of steps) {
      assert.doesNotMatch(String(field(step, 'script')), /\$\(params\./, 'no param substituted into a script');
      const env = field(step, 'env');
      assert.ok(Array.isArray(env));
      assert.deepEqual(env.map((e) => field(e, 'value')), ['$(params.image)', '$(params.severity)', '$(params.object)']);
    }
  });

  it('keeps API tokens out of pods that call no API', () => {
    for (const name of ['build-watcher-dead-letters', 'build-watcher-image-puller']) {
      const account = all.find((m) => m.object.kind === 'ServiceAccount' && m.object.metadata.name === name);
      assert.equal(field(account?.object, 'automountServiceAccountToken'), false, name);
    }
  });
});

describe('event routing', () => {
  for (const recipe of RECIPES.filter((r) => r.broker)) {
    it(`delivers build events to the function and never its own replies (${recipe.name})`, async () => {
      const installed = installedBy(recipe);
      for (const trigger of ofKind(installed, 'Trigger')) {
        assert.equal(field(trigger, 'spec', 'filters'), undefined, 'exact attribute filters work on every Broker class');
        const attributes = field(trigger, 'spec', 'filter', 'attributes');
        assert.ok(isRecord(attributes) && typeof attributes['type'] === 'string', `${trigger.metadata.name} filters on type`);
        for (const [name, value] of Object.entries(attributes)) {
          assert.match(name, /^[a-z][a-z0-9]*$/, 'an attribute name Knative accepts');
          assert.ok(typeof value === 'string' && value !== '', `${trigger.metadata.name}.${name} is not a wildcard`);
        }
        // The scan add-on's one Trigger hands the function's announcements to its EventListener, never back to the function.
        const scan = trigger.metadata.name === 'build-watcher-scan';
        assert.deepEqual(
          field(trigger, 'spec', 'subscriber', 'ref'),
          scan ? { apiVersion: 'triggers.tekton.dev/v1beta1', kind: 'EventListener', name: 'build-watcher-scan' } : { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: FUNCTION_SERVICE },
        );
        if (scan) assert.deepEqual(attributes, { type: CDEVENT_TYPES.published }, 'one event per built image, not image.built\'s one per object');
        assert.ok(ofKind(installed, 'Broker').some((b) => b.metadata.name === field(trigger, 'spec', 'broker')), 'its Broker is installed');
      }
      for (const kind of ['submitted', 'refused'] as const) {
        assert.deepEqual(matching(installed, await replyAttributes(kind)), [], `a ${kind} reply matches no Trigger`);
      }
      const build = (action: string) => matching(installed, apiServerEvent(action, 'build.openshift.io/v1', 'Build'));
      assert.deepEqual(build('add'), ['build-watcher-build-add']);
      assert.deepEqual(build('update'), ['build-watcher-build-update']);
      assert.deepEqual(build('delete'), [], 'deletes are not subscribed');
      assert.deepEqual(matching(installed, apiServerEvent('update', 'shipwright.io/v1beta1', 'Build')), [], 'a Shipwright Build is not an OpenShift Build');
      assert.deepEqual(matching(installed, { ...apiServerEvent('update', 'build.openshift.io/v1', 'Build'), type: 'dev.knative.apiserver.ref.update' }), []);
      const manual = { specversion: '1.0', id: 'manual', source: '/manual', type: SWEEP_REQUESTED_TYPE };
      assert.deepEqual(matching(installed, manual), ['build-watcher-sweep-requested']);
    });
  }

  it('routes each optional kind to exactly one Trigger per subscribed action', async () => {
    const installed = installedBy(RECIPES.find((r) => r.name.includes('optional'))!);
    const kinds: [string, string, string][] = [
      ['image.openshift.io/v1', 'ImageStream', 'imagestream'],
      ['tekton.dev/v1', 'TaskRun', 'taskrun'],
      ['tekton.dev/v1', 'PipelineRun', 'pipelinerun'],
      ['shipwright.io/v1beta1', 'BuildRun', 'buildrun'],
    ];
    for (const [apiVersion, kind, short] of kinds) {
      assert.deepEqual(matching(installed, apiServerEvent('add', apiVersion, kind)), [`build-watcher-${short}-add`]);
      assert.deepEqual(matching(installed, apiServerEvent('update', apiVersion, kind)), [`build-watcher-${short}-update`]);
      assert.deepEqual(matching(installed, apiServerEvent('delete', apiVersion, kind)), []);
    }
    for (const kind of ['submitted', 'refused'] as const) assert.deepEqual(matching(installed, await replyAttributes(kind)), []);
  });

  it('turns the scheduled PingSource into exactly one sweep, and ignores other PingSources', () => {
    const installed = installedBy(RECIPES.find((r) => r.name.includes('optional'))!);
    const [ping] = ofKind(installed, 'PingSource');
    assert.ok(ping);
    assert.deepEqual(JSON.parse(String(field(ping, 'spec', 'data'))), {}, 'the sweep event carries {}');
    assert.equal(field(ping, 'spec', 'contentType'), 'application/json');
    const extensions = field(ping, 'spec', 'ceOverrides', 'extensions');
    assert.ok(isRecord(extensions));
    const scheduled: Attributes = {
      specversion: '1.0',
      id: 'p',
      source: `/apis/v1/namespaces/${NAMESPACE}/pingsources/${ping.metadata.name}`,
      type: PING_SOURCE_TYPE,
      ...(extensions as Record<string, string>),
    };
    assert.deepEqual(matching(installed, scheduled), ['build-watcher-sweep-scheduled']);
    assert.deepEqual(matching(installed, { ...scheduled, buildwatcher: '' }), [], 'another PingSource is ignored');
  });

  it('sweeps every 5 minutes at most, with the add-on and in the direct-sink variant: recovery takes minutes, not hours', () => {
    for (const recipe of [RECIPES.find((r) => r.name.includes('optional'))!, RECIPES.find((r) => r.name === 'direct-sink')!]) {
      const pings = ofKind(installedBy(recipe), 'PingSource').filter((ping) => ping.metadata.name === 'build-watcher-sweep');
      assert.equal(pings.length, 1, recipe.name);
      const [minute, ...rest] = String(field(pings[0]!, 'spec', 'schedule')).split(' ');
      const every = /^\*\/(\d+)$/.exec(minute ?? '')?.[1];
      assert.ok(every !== undefined && Number(every) <= 5, `${recipe.name}: ${minute ?? ''}`);
      assert.deepEqual(rest, ['*', '*', '*', '*'], recipe.name);
    }
  });

  it('sends straight to the function without a Broker (direct-sink)', () => {
    const installed = installedBy(RECIPES.find((r) => r.name === 'direct-sink')!);
    assert.deepEqual(ofKind(installed, 'Broker'), []);
    assert.deepEqual(ofKind(installed, 'Trigger'), []);
    const sources = [...ofKind(installed, 'ApiServerSource'), ...ofKind(installed, 'PingSource')];
    assert.equal(sources.length, 2, 'Builds and the sweep');
    for (const source of sources) {
      assert.deepEqual(field(source, 'spec', 'sink', 'ref'), { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: FUNCTION_SERVICE });
    }
  });

  for (const recipe of RECIPES) {
    it(`has one Builds source, in Resource mode, whose sinks resolve (${recipe.name})`, () => {
      const installed = installedBy(recipe);
      const sources = ofKind(installed, 'ApiServerSource');
      const forBuilds = sources.filter((s) => JSON.stringify(field(s, 'spec', 'resources')).includes('"kind":"Build"'));
      assert.equal(forBuilds.length, 1);
      for (const source of [...sources, ...ofKind(installed, 'PingSource')]) {
        if (source.kind === 'ApiServerSource') assert.equal(field(source, 'spec', 'mode'), 'Resource', `${source.metadata.name}: the CRD defaults to Reference`);
        assert.ok(refResolves(installed, field(source, 'spec', 'sink', 'ref')), `${source.metadata.name} sink`);
      }
    });
  }
});

describe('delivery', () => {
  for (const recipe of RECIPES.filter((r) => r.broker)) {
    it(`retries with exponential backoff, then dead-letters, on every Trigger (${recipe.name})`, () => {
      const installed = installedBy(recipe);
      const brokers = ofKind(installed, 'Broker');
      assert.equal(brokers.length, 1);
      const triggers = ofKind(installed, 'Trigger');
      assert.ok(triggers.length >= 3);
      for (const trigger of triggers) {
        const delivery = effectiveDelivery(installed, trigger);
        const where = trigger.metadata.name;
        const retry = field(delivery, 'retry');
        assert.ok(typeof retry === 'number' && Number.isInteger(retry) && retry >= 5, `${where}: retry`);
        assert.equal(field(delivery, 'backoffPolicy'), 'exponential', where);
        const delay = durationMs(field(delivery, 'backoffDelay'));
        // Knative waits delay x 2^attempt; the whole window must outlast a short Thoth outage.
        const windowMs = delay * (2 ** retry - 1);
        assert.ok(windowMs >= 30 * 60_000 && windowMs <= 24 * 3_600_000, `${where}: retries span ${windowMs / 60_000} min`);
        const timeout = durationMs(field(delivery, 'timeout'));
        assert.ok(timeout >= 60_000 && timeout <= 10 * 60_000, `${where}: timeout ${timeout} ms`);
        const deadLetter = field(delivery, 'deadLetterSink', 'ref');
        assert.ok(refResolves(installed, deadLetter), `${where}: dead-letter sink is installed`);
        const receiver = installed.find((m) => m.object.kind === field(deadLetter, 'kind') && m.object.metadata.name === field(deadLetter, 'name'));
        assert.equal(receiver?.object.metadata.labels?.['networking.knative.dev/visibility'], 'cluster-local');
      }
    });
  }

  it('names the Broker class explicitly: in-memory by default, Kafka in its variant', () => {
    const [standard] = ofKind(installedBy(RECIPES[0]!), 'Broker');
    assert.equal(standard?.metadata.annotations?.['eventing.knative.dev/broker.class'], 'MTChannelBasedBroker');
    const [kafka] = ofKind(installedBy(RECIPES.find((r) => r.name === 'kafka')!), 'Broker');
    assert.equal(kafka?.metadata.annotations?.['eventing.knative.dev/broker.class'], 'Kafka');
    assert.equal(field(kafka, 'spec', 'config', 'kind'), 'ConfigMap');
    assert.equal(field(kafka, 'spec', 'config', 'name'), 'kafka-broker-config');
    assert.equal(kafka?.metadata.name, standard?.metadata.name, 'the variant replaces the Broker under the same name');
  });

  it('delivers in parallel by default: the in-memory Broker carries the InMemoryChannel async-handler annotation, as a string', () => {
    const [standard] = ofKind(installedBy(RECIPES[0]!), 'Broker');
    // The Broker copies messaging.knative.dev/* annotations onto its channel; the dispatcher parses the value with ParseBool.
    assert.equal(standard?.metadata.annotations?.['messaging.knative.dev/async-handler'], 'true');
  });
});

describe('configuration', () => {
  const configMap = all.find((m) => m.object.kind === 'ConfigMap' && m.object.metadata.name === 'build-watcher')?.object;
  const secret = all.find((m) => m.object.kind === 'Secret' && m.object.metadata.name === 'build-watcher');
  const data = field(configMap, 'data');
  const secretData = field(secret?.object, 'stringData');

  it('covers every configuration variable once: credentials in the Secret, the rest in the ConfigMap', () => {
    assert.ok(isRecord(data) && isRecord(secretData));
    const inConfigMap = Object.keys(data);
    const inSecret = Object.keys(secretData);
    assert.deepEqual([...inConfigMap, ...inSecret].sort(), CONFIG_VARIABLES.filter((v) => v !== NEVER_DEPLOYED && v !== SET_BY_KNATIVE).sort());
    for (const name of SECRET_VARIABLES) assert.ok(inSecret.includes(name), `${name} is in the Secret`);
    assert.ok(inSecret.every((name) => /^THOTH_(SRC|DST)_REGISTRY_(USER|PASSWORD)$/.test(name)));
  });

  it('is a configuration the function accepts as shipped', () => {
    assert.ok(isRecord(data) && isRecord(secretData));
    const env = Object.fromEntries([...Object.entries(data), ...Object.entries(secretData)].map(([k, v]) => [k, String(v)]));
    const config = loadConfig(env);
    assert.equal(config.trustEventPayload, false);
    assert.equal(config.passToken, false);
    assert.equal(config.workers, Number(data['THOTH_BUILD_WATCHER_WORKERS']));
  });

  it('keeps the Secret out of the default install and holds no credential in plain text', () => {
    assert.ok(secret?.file.startsWith('knative/templates/'), 'oc apply -f knative/ must not overwrite a filled-in Secret');
    for (const { file, object } of all.filter((m) => m.object.kind === 'Secret')) {
      if (object['type'] === 'kubernetes.io/service-account-token') {
        assert.equal(object['data'], undefined, `${file}: Kubernetes fills in the token`);
        assert.equal(object['stringData'], undefined, file);
        continue;
      }
      assert.equal(object['data'], undefined, file);
      for (const [key, value] of Object.entries(field(object, 'stringData') as Record<string, unknown>)) {
        assert.equal(value, '', `${file}: ${key} ships empty`);
      }
    }
    for (const { file, object } of all) {
      const text = JSON.stringify(object);
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}|-----BEGIN [A-Z ]*PRIVATE KEY|:\/\/[^/\s"]+:[^@\s"]+@/, `${file}: no token, key or URL credentials`);
    }
  });

  it('never deploys the test-only variable that trusts event payloads', () => {
    for (const file of [...manifestFiles(KNATIVE_DIR, { recursive: true }), join(REPO_ROOT, 'func.yaml')]) {
      const docs = parseYamlStream(readFileSync(file, 'utf8'), file);
      assert.doesNotMatch(JSON.stringify(docs), new RegExp(NEVER_DEPLOYED), file);
    }
  });

  it('matches containerConcurrency to the workers setting', () => {
    const concurrency = field(loadFuncYaml(), 'deploy', 'options', 'resources', 'limits', 'concurrency');
    assert.ok(isRecord(data));
    assert.equal(concurrency, Number(data['THOTH_BUILD_WATCHER_WORKERS']));
  });
});
