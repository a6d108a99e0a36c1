/**
 * End to end, with real parts only: kube-apiserver and etcd, Knative's ApiServerSource
 * receive adapter, Debian's docker-registry, the function in faas-js-runtime. Both the adapter
 * and the function run with the service accounts and RBAC of knative/, not as admin.
 * Thoth is the stand-in of test/thoth-stub.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import type { AdapterHandle } from '../harness/adapter.js';
import { waitFor } from '../harness/wait.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { metricTotal, postBinaryEvent, type RunningFunction } from '../function/run-function.js';
import { clusterRegistryStream } from './cluster.js';
import { deployBuildWatcher, NAMESPACE } from './deployment.js';

const NS = NAMESPACE;
const PREFIX = 'build-watcher.thoth-station.ninja';
const BUILDS = `/apis/build.openshift.io/v1/namespaces/${NS}/builds`;

interface KubeList<T> { items: T[] }
interface BuildJson { metadata: { name: string; resourceVersion: string; annotations?: Record<string, string>; uid: string }; status?: Record<string, unknown> }
interface EventJson { type: string; reason: string; message: string; involvedObject: { name: string; uid?: string } }

describe('Builds end to end through the real API server and adapter', { timeout: 900_000 }, () => {
  let cp: ControlPlane;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  let fn: RunningFunction;
  let adapter: AdapterHandle;
  let image: { digest: string };

  const admin = () => cp.admin;

  async function createBuild(name: string): Promise<BuildJson> {
    return (await admin().json({
      method: 'POST',
      path: BUILDS,
      body: {
        apiVersion: 'build.openshift.io/v1',
        kind: 'Build',
        metadata: { name, namespace: NS, labels: { 'openshift.io/build-config.name': 'app' } },
        spec: {
          strategy: { type: 'Docker', dockerStrategy: {} },
          output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } },
        },
      },
    })) as BuildJson;
  }

  /** What OpenShift's build controller does when a build ends: write status (Builds have no /status). */
  async function finishBuild(name: string, phase: string, digest?: string): Promise<void> {
    const current = (await admin().json({ path: `${BUILDS}/${name}` })) as BuildJson;
    await admin().json({
      method: 'PUT',
      path: `${BUILDS}/${name}`,
      body: {
        ...current,
        status: {
          phase,
          startTimestamp: new Date(Date.now() - 60_000).toISOString(),
          completionTimestamp: new Date().toISOString(),
          outputDockerImageReference: `${registry.host}/${NS}/app:latest`,
          ...(digest !== undefined ? { output: { to: { imageDigest: digest } } } : {}),
        },
      },
    });
  }

  const getBuild = async (name: string) => (await admin().json({ path: `${BUILDS}/${name}` })) as BuildJson;

  async function eventsFor(name: string): Promise<EventJson[]> {
    const list = (await admin().json({ path: `/api/v1/namespaces/${NS}/events` })) as KubeList<EventJson>;
    return list.items.filter((event) => event.involvedObject.name === name);
  }

  const metric = (pattern: RegExp) => metricTotal(fn.url, pattern);

  before(async () => {
    // One at a time, so that whatever started is stopped in `after` even when the next fails.
    thoth = await ThothStub.start();
    registry = await startRegistry();
    cp = await startControlPlane();
    image = await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [4096, 8192] });
    ({ fn, adapter } = await deployBuildWatcher(cp, thoth.url));
    // The loopback registry plays the cluster's: an ImageStream vouches for its repository.
    await clusterRegistryStream(cp, registry.host, NS, 'app');
  });

  after(async () => {
    await adapter?.stop();
    await fn?.stop();
    await thoth?.close();
    await registry?.stop();
    await cp?.stop();
  });

  it('a Build that completes is submitted exactly once, by digest, with its log, and marked', async () => {
    await createBuild('app-1');
    cp.setBuildLog(NS, 'app-1', 'STEP 1/2: FROM scratch\nSTEP 2/2: COPY . /app\nPush successful\n');
    await finishBuild('app-1', 'Complete', image.digest);

    const [submission] = await thoth.awaitSubmissions(1, 60_000);
    assert.equal(submission?.endpoint, 'build-analysis');
    assert.equal(submission?.body?.output_image, `${registry.host}/${NS}/app@${image.digest}`);
    assert.match(submission?.body?.build_log?.log ?? '', /Push successful/);
    assert.equal(submission?.query['origin'], NS);

    const marked = await waitFor(async () => {
      const build = await getBuild('app-1');
      return build.metadata.annotations?.[`${PREFIX}/submitted-at`] !== undefined ? build : undefined;
    }, { timeoutMs: 30_000, what: 'the submitted-at annotation' });
    const annotations = marked.metadata.annotations ?? {};
    assert.equal(annotations[`${PREFIX}/output-image`], `${registry.host}/${NS}/app@${image.digest}`);
    const ids = JSON.parse(annotations[`${PREFIX}/analysis-ids`] ?? '{}') as { output?: string; buildLog?: string };
    assert.match(ids.output ?? '', /^package-extract-/);
    assert.equal(annotations[`${PREFIX}/claim`], undefined, 'the claim is released');

    const normal = await waitFor(async () => (await eventsFor('app-1')).find((event) => event.reason === 'AnalysisSubmitted'), {
      timeoutMs: 30_000,
      what: 'the AnalysisSubmitted Event',
    });
    assert.equal(normal.type, 'Normal');
    assert.ok(normal.message.includes(ids.output ?? '?'), normal.message);
    assert.equal(normal.involvedObject.uid, marked.metadata.uid);
    assert.equal(thoth.submissions.length, 1);
  });

  it('after an adapter restart, touching the Build again submits nothing', async () => {
    await adapter.restart();
    const before = await metric(/decision="ignored:already-submitted"/);
    const current = await getBuild('app-1');
    await admin().json({
      method: 'PATCH',
      path: `${BUILDS}/app-1`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { touched: 'yes' }, resourceVersion: current.metadata.resourceVersion } },
    });
    await waitFor(async () => ((await metric(/decision="ignored:already-submitted"/)) > before ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the function to see the touched Build',
    });
    assert.equal(thoth.submissions.length, 1);
  });

  it('a Build whose image is not in the registry gets a Warning Event and no annotation', async () => {
    const missing = `sha256:${'ab'.repeat(32)}`;
    await createBuild('ghost-1');
    cp.setBuildLog(NS, 'ghost-1', 'pushed nothing\n');
    await finishBuild('ghost-1', 'Complete', missing);
    const warning = await waitFor(async () => (await eventsFor('ghost-1')).find((event) => event.type === 'Warning'), {
      timeoutMs: 60_000,
      what: 'a Warning Event on ghost-1',
    });
    assert.equal(warning.reason, 'AnalysisRefused');
    assert.match(warning.message, /400|manifest|unknown/i);
    // The Warning is recorded as the refusal happens; the claim is released right after it.
    const build = await waitFor(async () => {
      const current = await getBuild('ghost-1');
      return current.metadata.annotations?.[`${PREFIX}/claim`] === undefined ? current : undefined;
    }, { timeoutMs: 30_000, what: 'the claim on ghost-1 released' });
    assert.equal(build.metadata.annotations?.[`${PREFIX}/submitted-at`], undefined);
    assert.equal(thoth.submissions.length, 1);
  });

  it('a failed Build is submitted with its log, without an output image', async () => {
    await createBuild('broken-1');
    cp.setBuildLog(NS, 'broken-1', 'error: build error: no such file: requirements.txt\n');
    await finishBuild('broken-1', 'Failed');
    const submissions = await thoth.awaitSubmissions(2, 60_000);
    const failed = submissions[1];
    assert.equal(failed?.body?.output_image, undefined);
    assert.match(failed?.body?.build_log?.log ?? '', /requirements\.txt/);
  });

  it('acts only on what the API server says, not on what an event claims', async () => {
    await createBuild('forged-1');
    const live = await getBuild('forged-1');
    const before = thoth.submissions.length;
    // Anyone who can reach the function can POST this: a "Complete" Build that is not.
    const response = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: {
        apiVersion: 'build.openshift.io/v1',
        kind: 'Build',
        metadata: { name: 'forged-1', namespace: NS, uid: live.metadata.uid, resourceVersion: live.metadata.resourceVersion },
        spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } } },
        status: { phase: 'Complete', outputDockerImageReference: `${registry.host}/${NS}/app:latest`, output: { to: { imageDigest: image.digest } } },
      },
    });
    assert.equal(response.status, 204);
    assert.equal(thoth.submissions.length, before);
  });

  it('refuses events from namespaces outside THOTH_WATCHED_NAMESPACE', async () => {
    const response = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.ref.update',
      object: { apiVersion: 'build.openshift.io/v1', kind: 'Build', name: 'app-1', namespace: 'elsewhere' },
      extensions: { name: 'app-1', namespace: 'elsewhere', kind: 'Build' },
    });
    assert.equal(response.status, 403);
    assert.match(await response.text(), /elsewhere is not in THOTH_WATCHED_NAMESPACE/);
  });

  it('Reference mode: the event names the Build, the function reads it and submits once', async () => {
    // The Resource-mode adapter is stopped, so this Build's only event is the one sent here.
    await adapter.stop();
    const before = thoth.submissions.length;
    await createBuild('ref-1');
    cp.setBuildLog(NS, 'ref-1', 'built by reference\n');
    await finishBuild('ref-1', 'Complete', image.digest);
    const reference = { apiVersion: 'build.openshift.io/v1', kind: 'Build', name: 'ref-1', namespace: NS };
    const extensions = { name: 'ref-1', namespace: NS, kind: 'Build' };
    const first = await postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.ref.update', object: reference, extensions });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('ce-type'), 'dev.build-watcher.analysis.submitted');
    const again = await postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.ref.update', object: reference, extensions });
    assert.equal(again.status, 204);
    assert.equal(thoth.submissions.length, before + 1);
    await adapter.restart();
  });

  it('the function service account can do what the function needs and nothing more', async () => {
    async function rules(serviceAccount: string): Promise<Set<string>> {
      const token = await cp.tokenForServiceAccount(NS, serviceAccount);
      const review = (await admin().json({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
        token,
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: NS } },
      })) as { status: { resourceRules: { verbs: string[]; apiGroups?: string[]; resources?: string[] }[] } };
      const granted = new Set<string>();
      for (const rule of review.status.resourceRules) {
        for (const group of rule.apiGroups ?? ['']) for (const resource of rule.resources ?? []) for (const verb of rule.verbs) granted.add(`${verb} ${group}/${resource}`);
      }
      return granted;
    }
    // What any service account may do anyway (system:basic-user and friends) is not ours.
    await cp.applyManifests([{ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'nobody', namespace: NS } }]);
    const everyone = await rules('nobody');
    const ours = [...(await rules('build-watcher-function'))].filter((entry) => !everyone.has(entry)).sort();
    assert.deepEqual(ours, [
      'create /events',
      'create events.k8s.io/events',
      'get build.openshift.io/builds',
      'get build.openshift.io/builds/log',
      'get image.openshift.io/imagestreams',
      'list build.openshift.io/builds',
      'list image.openshift.io/imagestreams',
      'patch build.openshift.io/builds',
    ]);
    const token = await cp.tokenForServiceAccount(NS, 'build-watcher-function');
    for (const forbidden of [`/api/v1/namespaces/${NS}/secrets`, `/api/v1/namespaces/default/events`, `/apis/build.openshift.io/v1/namespaces/default/builds`]) {
      const answer = await admin().send({ path: forbidden, token });
      assert.equal(answer.status, 403, forbidden);
    }
  });
});
