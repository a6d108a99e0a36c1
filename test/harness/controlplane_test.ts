import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startControlPlane } from './controlplane.js';
import type { ControlPlane } from './controlplane.js';
import { startEventSink } from './event-sink.js';
import type { EventSink } from './event-sink.js';
import { KubeHttp } from './kube-http.js';
import { isGroupAlive } from './processes.js';
import { waitFor, within } from './wait.js';

const NS = 'harness-test';

const rbacManifests = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'watcher', namespace: NS } },
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'nobody', namespace: NS } },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'watch-builds', namespace: NS },
    rules: [
      { apiGroups: ['build.openshift.io'], resources: ['builds'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['build.openshift.io'], resources: ['builds/log'], verbs: ['get'] },
    ],
  },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'watcher-watch-builds', namespace: NS },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'watch-builds' },
    subjects: [{ kind: 'ServiceAccount', name: 'watcher', namespace: NS }],
  },
];

const build = (name: string) => ({
  apiVersion: 'build.openshift.io/v1',
  kind: 'Build',
  metadata: { name, namespace: NS, labels: { 'openshift.io/build-config.name': 'app' } },
  spec: { strategy: { type: 'Source' }, output: { to: { kind: 'DockerImage', name: 'registry.invalid/app:latest' } } },
});

interface OpenWatch {
  readonly status: number;
  /** True once the client has seen the stream end or its connection close. */
  ended(): boolean;
  close(): void;
}

/** A watch as a client of `cp.server` holds one: open until the server side ends it. */
function openWatch(cp: ControlPlane, token: string, path: string): Promise<OpenWatch> {
  return new Promise((resolve, reject) => {
    let ended = false;
    const req = request(new URL(path, cp.server), { ca: cp.caPem, headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      const end = (): void => {
        ended = true;
      };
      res.on('end', end).on('close', end).on('error', end);
      res.resume();
      resolve({ status: res.statusCode ?? 0, ended: () => ended, close: () => req.destroy() });
    });
    req.on('error', (err) => {
      ended = true;
      reject(err);
    });
    req.end();
  });
}

describe('local control plane', { timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let sink: EventSink;

  before(async () => {
    cp = await startControlPlane();
    sink = await startEventSink();
    await cp.applyManifests(rbacManifests);
  });

  after(async () => {
    await sink?.close();
    await cp?.stop();
  });

  it('serves /version with the version that was built', async () => {
    const version = await cp.admin.json({ path: '/version' });
    assert.ok(version !== null && typeof version === 'object');
    const fields = version as Record<string, unknown>;
    assert.equal(fields['gitVersion'], cp.versions.kubernetes);
    assert.equal(`v${String(fields['major'])}.${String(fields['minor'])}`, cp.versions.kubernetes.replace(/\.\d+$/, ''));
    assert.equal(fields['gitTreeState'], 'archive');
  });

  it('installs the OpenShift stand-in, Knative, Tekton and Shipwright CRDs', async () => {
    const list = (await cp.admin.json({ path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions' })) as {
      items: { metadata: { name: string } }[];
    };
    const names = list.items.map((crd) => crd.metadata.name);
    for (const expected of [
      'builds.build.openshift.io',
      'buildconfigs.build.openshift.io',
      'imagestreams.image.openshift.io',
      'apiserversources.sources.knative.dev',
      'pingsources.sources.knative.dev',
      'brokers.eventing.knative.dev',
      'triggers.eventing.knative.dev',
      'taskruns.tekton.dev',
      'pipelineruns.tekton.dev',
      'buildruns.shipwright.io',
    ]) {
      assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
    }
  });

  it('rejects a manifest that does not match the real ApiServerSource schema', async () => {
    const source = {
      apiVersion: 'sources.knative.dev/v1',
      kind: 'ApiServerSource',
      metadata: { name: 'builds', namespace: NS },
      spec: {
        mode: 'Resource',
        resources: [{ apiVersion: 'build.openshift.io/v1', kind: 'Build' }],
        serviceAccountName: 'watcher',
        sink: { uri: 'http://example.invalid/' },
      },
    };
    const [applied] = await cp.applyManifests([source]);
    assert.equal(applied?.kind, 'ApiServerSource');
    // A plausible slip: `url` for `uri` in the sink.
    await assert.rejects(
      cp.applyManifests([{ ...source, spec: { ...source.spec, sink: { url: 'http://example.invalid/' } } }]),
      /spec\.sink\.url/,
    );
  });

  it('gives a service account exactly what RBAC grants it', async () => {
    const { KubeConfig, CustomObjectsApi, CoreV1Api } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromFile(await cp.kubeconfigForServiceAccount(NS, 'watcher'));
    const builds = await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
      group: 'build.openshift.io',
      version: 'v1',
      namespace: NS,
      plural: 'builds',
    });
    assert.ok(Array.isArray((builds as { items?: unknown }).items));
    await assert.rejects(kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: NS }), (err: unknown) =>
      String((err as { code?: unknown }).code) === '403',
    );
    await assert.rejects(
      kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        group: 'build.openshift.io',
        version: 'v1',
        namespace: NS,
        plural: 'builds',
        body: build('not-allowed'),
      }),
      (err: unknown) => String((err as { code?: unknown }).code) === '403',
    );
  });

  it('runs the receive adapter with a service account and delivers resource events in binary mode', async () => {
    const adapter = await cp.startAdapter({
      sink: sink.url,
      namespaces: [NS],
      resources: [{ apiVersion: 'build.openshift.io/v1', kind: 'Build' }],
      mode: 'Resource',
      kubeconfigPath: await cp.kubeconfigForServiceAccount(NS, 'watcher'),
      name: 'builds',
      namespace: NS,
    });
    await cp.applyManifests([build('app-1')]);
    const added = await sink.waitForEvent((e) => e.attributes['type'] === 'dev.knative.apiserver.resource.add' && e.attributes['name'] === 'app-1');
    assert.equal(added.attributes['kind'], 'Build');
    assert.equal(added.attributes['namespace'], NS);
    assert.equal(added.attributes['source'], cp.server);
    assert.equal(added.attributes['subject'], `/apis/build.openshift.io/v1/namespaces/${NS}/builds/app-1`);
    assert.match(added.contentType ?? '', /^application\/json/);
    const body = JSON.parse(added.body) as { metadata?: { name?: string; uid?: string } };
    assert.equal(body.metadata?.name, 'app-1');
    assert.ok(body.metadata?.uid);

    await adapter.restart();
    // Builds have no status subresource, as on OpenShift: status is written with the object.
    const statusPath = await cp.pathFor('build.openshift.io/v1', 'Build', NS, 'app-1');
    await cp.admin.json({
      method: 'PATCH',
      path: statusPath,
      body: { status: { phase: 'Complete' } },
      contentType: 'application/merge-patch+json',
    });
    const updated = await sink.waitForEvent((e) => e.attributes['type'] === 'dev.knative.apiserver.resource.update' && e.attributes['name'] === 'app-1');
    assert.equal((JSON.parse(updated.body) as { status?: { phase?: string } }).status?.phase, 'Complete');
    await adapter.stop();
    assert.equal(adapter.running(), false);
  });

  it('serves builds/log through the stand-in only to callers RBAC allows', async () => {
    cp.setBuildLog(NS, 'app-1', 'STEP 1/2: FROM ubi9\nPushed image\n');
    const path = `/apis/build.openshift.io/v1/namespaces/${NS}/builds/app-1/log`;
    const allowed = await new KubeHttp(cp.server, cp.caPem, await cp.tokenForServiceAccount(NS, 'watcher')).send({ path });
    assert.equal(allowed.status, 200);
    assert.match(String(allowed.headers['content-type']), /^text\/plain/);
    assert.equal(allowed.text, 'STEP 1/2: FROM ubi9\nPushed image\n');

    const denied = await new KubeHttp(cp.server, cp.caPem, await cp.tokenForServiceAccount(NS, 'nobody')).send({ path });
    assert.equal(denied.status, 403);
    const forged = await new KubeHttp(cp.server, cp.caPem, 'not-a-token').send({ path });
    assert.equal(forged.status, 401);
    const missing = await cp.admin.send({ path: `/apis/build.openshift.io/v1/namespaces/${NS}/builds/absent/log` });
    assert.equal(missing.status, 404);
  });

  it('ends a watch through the front when kube-apiserver dies, answers 503 while it is down, and keeps etcd\'s data across a restart of both', async () => {
    const builds = `/apis/build.openshift.io/v1/namespaces/${NS}/builds`;
    const token = await cp.tokenForServiceAccount(NS, 'watcher');
    const watch = await openWatch(cp, token, `${builds}?watch=true`);
    assert.equal(watch.status, 200);

    await cp.kill('kube-apiserver');
    // As the API server's own death would: the client sees its connection close, and reconnects.
    await waitFor(async () => (watch.ended() ? true : undefined), { what: 'the watch through the front to end', timeoutMs: 30_000 });
    const whileDown = await within(cp.admin.send({ path: '/version' }), { what: 'a request through the front while kube-apiserver is down', timeoutMs: 30_000 });
    assert.equal(whileDown.status, 503);

    await cp.kill('etcd');
    await cp.restart('etcd');
    await cp.restart('kube-apiserver');
    const kept = (await cp.admin.json({ path: `${builds}/app-1` })) as { status?: { phase?: string } };
    assert.equal(kept.status?.phase, 'Complete', 'etcd kept what was written before');
    // The same certificate and signing key: the front, and tokens issued before, still work.
    const again = await openWatch(cp, token, `${builds}?watch=true`);
    again.close();
    assert.equal(again.status, 200);
    assert.equal((await new KubeHttp(cp.server, cp.caPem, token).send({ path: builds })).status, 200);
  });

  it('leaves no process and no temporary directory behind', async () => {
    const pids = cp.runningPids();
    assert.ok(pids.length >= 2, 'etcd and kube-apiserver should be running');
    const kubeconfig = cp.adminKubeconfigPath;
    assert.ok(existsSync(kubeconfig));
    await cp.stop();
    assert.deepEqual(pids.filter(isGroupAlive), []);
    assert.equal(existsSync(kubeconfig), false);
  });
});
