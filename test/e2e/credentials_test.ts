/**
 * No Build's or run's author picks a host that receives a secret (issue 10), end to end: the
 * real API server (whose Build stand-in keeps user-written status, as OpenShift does), the
 * function under faas-js-runtime with its own service account, real registries, and the Thoth
 * stand-in. The author's registry is a real docker-registry that asks for credentials, behind a
 * proxy that records every Authorization header it is sent.
 *
 * For every source kind, an author forges an output, a base or a status to point at that
 * registry. It must receive no Authorization header at all (and in push mode no request at all:
 * the function may not fetch from it), and Thoth must be given no credential for that image.
 * Covered in token mode (THOTH_PASS_TOKEN), and in source-credential plus push mode
 * (THOTH_SRC_REGISTRY_* with THOTH_PUSH_REGISTRY); plus another namespace's base image (F2)
 * with the function able to read that namespace, as in the all-namespaces variant.
 *
 * Issue 20 (the confused deputy): THOTH_DST_REGISTRY_* read or hand to Thoth only repositories of the object's own
 * namespace, in push mode (the push registry's mirror naming) and in DST-repository mode (THOTH_DST_REGISTRY_REPOSITORIES
 * without a push registry). The push registry sits behind a recording proxy too, so "not read" is what the function sent.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { waitFor } from '../harness/wait.js';
import { pushTestImage, startRegistry, type PushedImage, type RunningRegistry } from '../registry/docker-registry.js';
import { startFaultyProxy, type FaultyProxy } from '../registry/faulty-proxy.js';
import { makeServerPki } from '../registry/test-pki.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { postBinaryEvent, startFunction, type RunningFunction } from '../function/run-function.js';
import { annotationsOf, clusterRegistryStream, createWithStatus, FUNCTION_RULES, prepareNamespace, readObject } from './cluster.js';

const NS = 'e2e-creds';
const VICTIM = 'e2e-victim';
const TOKEN = 'sha256~distinctive-token-for-the-leak-check-0001';
const SRC = { username: 'src-user', password: 'src~pass(word)* with spaces+&=' };
const DST = { username: 'dst-user', password: "dst'pass~(2)*!" };

type Json = Record<string, unknown>;

describe('credentials go only where an ImageStream vouches, end to end', { timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let clusterRegistry: RunningRegistry;
  let authorRegistry: RunningRegistry;
  let author: FaultyProxy;
  let push: RunningRegistry;
  /** The push registry as the functions reach it: every request recorded. */
  let pushFront: FaultyProxy;
  let thoth: ThothStub;
  let tokenMode: RunningFunction;
  let pushMode: RunningFunction;
  /** THOTH_DST_REGISTRY_* with THOTH_DST_REGISTRY_REPOSITORIES naming the push registry's `{namespace}`, no push registry. */
  let dstMode: RunningFunction;
  let dir: string;
  let images: Record<'app' | 'base' | 'victim' | 'forged' | 'victimOrg' | 'victimMirror' | 'ownOnDst', PushedImage>;

  /** Every credential Thoth was given with an image on `repository`, accepted or refused. */
  const credentialsFor = (repository: string) =>
    thoth.attempts.flatMap((attempt) => attempt.images).filter((sent) => sent.image.startsWith(repository) && (sent.user !== undefined || sent.password !== undefined));
  const authorizations = () => author.seen.filter((request) => request.authorization !== undefined);
  /** Requests the function itself made (its copier names itself); Thoth's own inspections do not count. */
  const fromFunction = () => author.seen.filter((request) => request.userAgent === 'build-watcher');
  /** Requests the function made to the push registry for a repository that is not its namespace's. */
  const foreignReads = () => pushFront.seen.filter((request) => request.userAgent === 'build-watcher' && /victim/.test(request.path));
  /** Every image Thoth was sent (accepted or refused) that names a victim's repository on the push registry. */
  const sentToThoth = (needle: string) => thoth.attempts.flatMap((attempt) => attempt.images).filter((sent) => sent.image.includes(needle));

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bw-e2e-creds-'));
    await writeFile(path.join(dir, 'token'), `${TOKEN}\n`);
    [cp, clusterRegistry, authorRegistry, push] = await Promise.all([
      startControlPlane(),
      startRegistry(),
      startRegistry({ auth: 'htpasswd' }),
      startRegistry({ auth: 'htpasswd', credentials: DST }),
    ]);
    author = await startFaultyProxy({ target: authorRegistry.url });
    pushFront = await startFaultyProxy({ target: push.url });
    images = {
      app: await pushTestImage(clusterRegistry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [512] }),
      base: await pushTestImage(clusterRegistry, { repository: 'openshift/python', tag: '3.11', layerSizes: [512] }),
      victim: await pushTestImage(clusterRegistry, { repository: `${VICTIM}/private`, tag: 'latest', layerSizes: [512] }),
      forged: await pushTestImage(authorRegistry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [512] }),
      // Another tenant's private images on the registry the DST credentials belong to.
      victimOrg: await pushTestImage(push, { repository: 'victim-org/private', tag: 'latest', layerSizes: [640] }),
      victimMirror: await pushTestImage(push, { repository: `mirror/${VICTIM}/private`, tag: 'latest', layerSizes: [768] }),
      ownOnDst: await pushTestImage(push, { repository: `${NS}/app`, tag: 'latest', layerSizes: [896] }),
    };
    thoth = await ThothStub.start({ plainHttpRegistries: [clusterRegistry.host, author.host, push.host, pushFront.host] });
    await prepareNamespace(cp, NS, { 'build-watcher': FUNCTION_RULES });
    await prepareNamespace(cp, VICTIM, {});
    await prepareNamespace(cp, 'openshift', {});
    // OpenShift's shared-resource-viewers binding: every authenticated user may read the
    // openshift namespace's ImageStreams (the builder images).
    await cp.applyManifests([
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'shared-resource-viewer', namespace: 'openshift' }, rules: [{ apiGroups: ['image.openshift.io'], resources: ['imagestreams'], verbs: ['get', 'list', 'watch'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'shared-resource-viewers', namespace: 'openshift' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'shared-resource-viewer' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:authenticated' }],
      },
    ]);
    // As in the all-namespaces variant: the function may read the victim's ImageStreams.
    await cp.applyManifests([
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'read-streams', namespace: VICTIM }, rules: [{ apiGroups: ['image.openshift.io'], resources: ['imagestreams'], verbs: ['get', 'list'] }] },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'read-streams', namespace: VICTIM },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-streams' },
        subjects: [{ kind: 'ServiceAccount', name: 'build-watcher', namespace: NS }],
      },
    ]);
    // The cluster registry, as OpenShift's ImageStreams describe it.
    await clusterRegistryStream(cp, clusterRegistry.host, NS, 'app');
    await createWithStatus(cp, { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: 'python', namespace: 'openshift' } }, {
      dockerImageRepository: `${clusterRegistry.host}/openshift/python`,
      tags: [{ tag: '3.11', items: [{ created: '2026-11-01T00:00:00Z', dockerImageReference: `${clusterRegistry.host}/openshift/python@${images.base.digest}`, image: images.base.digest, generation: 1 }] }],
    });
    await createWithStatus(cp, { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: 'private', namespace: VICTIM } }, {
      dockerImageRepository: `${clusterRegistry.host}/${VICTIM}/private`,
      tags: [{ tag: 'latest', items: [{ created: '2026-11-01T00:00:00Z', dockerImageReference: `${clusterRegistry.host}/${VICTIM}/private@${images.victim.digest}`, image: images.victim.digest, generation: 1 }] }],
    });

    const kubeconfig = await cp.kubeconfigForServiceAccount(NS, 'build-watcher');
    const common = {
      THOTH_USER_API_HOST: thoth.url,
      KUBECONFIG: kubeconfig,
      THOTH_WATCHED_NAMESPACE: NS,
      BUILD_WATCHER_SOURCE_KINDS: 'Build,ImageStream,TaskRun,PipelineRun,BuildRun',
      THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1',
      THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1',
    };
    tokenMode = await startFunction({ env: { ...common, THOTH_PASS_TOKEN: '1', BUILD_WATCHER_TOKEN_FILE: path.join(dir, 'token') } });
    pushMode = await startFunction({
      env: {
        ...common,
        THOTH_PUSH_REGISTRY: `${pushFront.host}/mirror`,
        THOTH_SRC_REGISTRY_USER: SRC.username,
        THOTH_SRC_REGISTRY_PASSWORD: SRC.password,
        THOTH_DST_REGISTRY_USER: DST.username,
        THOTH_DST_REGISTRY_PASSWORD: DST.password,
      },
    });
    dstMode = await startFunction({
      env: { ...common, THOTH_DST_REGISTRY_USER: DST.username, THOTH_DST_REGISTRY_PASSWORD: DST.password, THOTH_DST_REGISTRY_REPOSITORIES: `${pushFront.host}/{namespace}` },
    });
  });

  after(async () => {
    await tokenMode?.stop();
    await pushMode?.stop();
    await dstMode?.stop();
    await thoth?.close();
    await author?.close();
    await pushFront?.close();
    await Promise.all([clusterRegistry?.stop(), authorRegistry?.stop(), push?.stop()]);
    await cp?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** A Build whose author wrote its status (OpenShift keeps it): output on `reference`. */
  async function forgedBuild(name: string, reference: string, digest: string, from?: Json): Promise<Json> {
    return createWithStatus(
      cp,
      {
        apiVersion: 'build.openshift.io/v1',
        kind: 'Build',
        metadata: { name, namespace: NS },
        spec: {
          strategy: { type: 'Source', sourceStrategy: { from: from ?? { kind: 'DockerImage', name: `${clusterRegistry.host}/openshift/python@${images.base.digest}` } } },
          output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } },
        },
      },
      { phase: 'Complete', outputDockerImageReference: reference, output: { to: { imageDigest: digest } } },
    );
  }

  /** Every answer the function gave, headers and body, for the leak check. */
  const replies: string[] = [];

  async function deliver(fn: RunningFunction, object: Json): Promise<Response> {
    const response = await postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.update', object });
    replies.push(`${JSON.stringify([...response.headers])}\n${await response.clone().text()}`);
    return response;
  }

  it('token mode: the legitimate Build gets the token, on the cluster registry only', async () => {
    const build = await forgedBuild('honest-1', `${clusterRegistry.host}/${NS}/app:latest`, images.app.digest);
    const response = await deliver(tokenMode, build);
    assert.equal(response.status, 200, await response.clone().text());
    const honest = thoth.submissions.find((submission) => submission.body?.output_image === `${clusterRegistry.host}/${NS}/app@${images.app.digest}`);
    assert.equal(honest?.query['output_registry_password'], TOKEN, 'the vouched-for output gets the token');
    assert.equal(honest?.query['base_registry_password'], TOKEN, 'the openshift builder image is in a shared namespace');
  });

  it('F1a, token mode: a Build whose status names the author\'s registry sends it nothing, and Thoth no credential for it', async () => {
    const forged = `${author.host}/${NS}/app`;
    const build = await forgedBuild('forged-1', `${forged}:latest`, images.forged.digest);
    const response = await deliver(tokenMode, build);
    assert.ok(response.status === 200 || response.status === 204, await response.clone().text());
    await waitFor(async () => (thoth.attempts.some((attempt) => attempt.images.some((sent) => sent.image.startsWith(forged))) ? true : undefined), {
      timeoutMs: 30_000,
      what: 'Thoth to be sent the forged reference',
    });
    assert.deepEqual(credentialsFor(forged), []);
    assert.deepEqual(authorizations(), [], 'the author\'s registry never receives an Authorization header');
  });

  it('F1a for every source kind: an ImageStream tag, a TaskRun and a BuildRun pointing at the author\'s registry', async () => {
    const forged = `${author.host}/${NS}/app@${images.forged.digest}`;
    const stream = await createWithStatus(cp, { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: 'forged-stream', namespace: NS } }, {
      dockerImageRepository: `${clusterRegistry.host}/${NS}/forged-stream`,
      tags: [{ tag: 'latest', items: [{ created: '2026-11-02T00:00:00Z', dockerImageReference: forged, image: images.forged.digest, generation: 1 }] }],
    });
    const taskRun = await createWithStatus(
      cp,
      { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name: 'forged-run', namespace: NS }, spec: { taskRef: { name: 'buildah' } } },
      {
        podName: 'forged-run-pod',
        conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
        results: [{ name: 'IMAGE_URL', type: 'string', value: `${author.host}/${NS}/app` }, { name: 'IMAGE_DIGEST', type: 'string', value: images.forged.digest }],
      },
    );
    const buildRun = await createWithStatus(
      cp,
      { apiVersion: 'shipwright.io/v1beta1', kind: 'BuildRun', metadata: { name: 'forged-buildrun', namespace: NS }, spec: { build: { name: 'app' }, output: { image: `${author.host}/${NS}/app` } } },
      { conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', message: 'done', lastTransitionTime: '2026-11-02T00:00:00Z' }], output: { digest: images.forged.digest } },
    );
    const sent = () => thoth.attempts.flatMap((attempt) => attempt.images).filter((image) => image.image.startsWith(`${author.host}/`)).length;
    const before = sent();
    for (const object of [stream, taskRun, buildRun]) {
      const response = await deliver(tokenMode, object);
      assert.ok(response.status < 300, `${String(object['kind'])}: ${response.status} ${await response.clone().text()}`);
    }
    assert.equal(sent() - before, 3, 'each kind submitted the forged image, as a reference');
    assert.deepEqual(credentialsFor(`${author.host}/${NS}/app`), []);
    assert.deepEqual(authorizations(), []);
  });

  it('F2: another namespace\'s base image goes without the token, with a Warning, and is still submitted', async () => {
    const build = await forgedBuild('cross-1', `${clusterRegistry.host}/${NS}/app:latest`, images.app.digest, { kind: 'ImageStreamTag', namespace: VICTIM, name: 'private:latest' });
    const response = await deliver(tokenMode, build);
    assert.equal(response.status, 200, await response.clone().text());
    const victim = `${clusterRegistry.host}/${VICTIM}/private@${images.victim.digest}`;
    const submission = thoth.submissions.find((entry) => entry.body?.base_image === victim);
    assert.ok(submission, 'the base image was submitted, not dropped');
    assert.equal(submission.query['base_registry_password'], undefined);
    assert.equal(submission.query['base_registry_user'], undefined);
    const warning = await waitFor(async () => {
      const list = (await cp.admin.json({ path: `/api/v1/namespaces/${NS}/events` })) as { items: { type: string; reason: string; message: string; involvedObject: { name: string } }[] };
      return list.items.find((event) => event.involvedObject.name === 'cross-1' && event.type === 'Warning' && /neither this Build's namespace nor BUILD_WATCHER_SHARED_IMAGE_NAMESPACES/.test(event.message));
    }, { timeoutMs: 30_000, what: 'the Warning about the base image' });
    assert.equal(warning.reason, 'AnalysisWarning');
  });

  it('F1b and F3, push mode: the author\'s registry is never contacted, and no source credential goes anywhere near it', async () => {
    const build = await forgedBuild('forged-push-1', `${author.host}/${NS}/app:latest`, images.forged.digest);
    const response = await deliver(pushMode, build);
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(fromFunction(), [], 'the function does not fetch from a host it was not allowed');
    const events = await waitFor(async () => {
      const list = (await cp.admin.json({ path: `/api/v1/namespaces/${NS}/events` })) as { items: { reason: string; message: string; involvedObject: { name: string } }[] };
      return list.items.find((event) => event.involvedObject.name === 'forged-push-1' && event.reason === 'PushSkipped');
    }, { timeoutMs: 30_000, what: 'the PushSkipped Warning' });
    assert.match(events.message, /^registry not allowed/);
    assert.ok(!events.message.includes(author.host), 'no address of the author\'s choosing in the Event');
    assert.deepEqual(credentialsFor(`${author.host}/${NS}/app`), []);
    assert.deepEqual(authorizations(), []);
  });

  it('push mode: the vouched-for Build is copied with the source credentials and submitted as the copy with the push credentials', async () => {
    const build = await forgedBuild('honest-push-1', `${clusterRegistry.host}/${NS}/app:latest`, images.app.digest);
    const response = await deliver(pushMode, build);
    assert.equal(response.status, 200, await response.clone().text());
    const copy = `${pushFront.host}/mirror/${NS}/app@${images.app.digest}`;
    const submission = thoth.submissions.find((entry) => entry.body?.output_image === copy);
    assert.equal(submission?.query['output_registry_password'], DST.password);
    const marked = annotationsOf(await readObject(cp, { apiVersion: 'build.openshift.io/v1', kind: 'Build', metadata: { name: 'honest-push-1', namespace: NS } }));
    assert.equal(marked[ANNOTATIONS.outputImage], copy);
  });

  type KubeEvent = { type: string; reason: string; message: string; involvedObject: { name: string; kind: string } };
  const eventsOf = async (kind: string, name: string) => ((await cp.admin.json({ path: `/api/v1/namespaces/${NS}/events` })) as { items: KubeEvent[] }).items
    .filter((event) => event.involvedObject.kind === kind && event.involvedObject.name === name);

  /**
   * The refusal an author sees: the reply says refused, a Warning says why (naming neither image nor host), and no Event or
   * annotation carries an analysis id, because nothing was submitted.
   */
  async function assertRefusedOutside(response: Response, kind: string, name: string, apiPath: string): Promise<void> {
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.analysis.refused', `${kind} ${name}`);
    const warning = await waitFor(async () => (await eventsOf(kind, name)).find((event) => event.reason === 'AnalysisRefused'), { timeoutMs: 30_000, what: `the AnalysisRefused Warning on ${name}` });
    assert.match(warning.message, /outside this namespace's repositories/);
    assert.ok(!warning.message.includes(pushFront.host) && !warning.message.includes('victim'), 'neither host nor repository in the Event');
    assert.ok((await eventsOf(kind, name)).every((event) => event.reason !== 'AnalysisSubmitted'), 'no Event with an analysis id');
    const object = (await cp.admin.json({ path: `${apiPath}/${name}` })) as { metadata: { annotations?: Record<string, string> } };
    assert.equal(object.metadata.annotations?.[ANNOTATIONS.analysisIds], undefined);
  }

  it('issue 20, push mode: a Build naming another tenant\'s private repository on the push registry is neither read, copied nor submitted', async () => {
    const cases = [
      { name: 'deputy-push-1', reference: `${pushFront.host}/victim-org/private:latest`, digest: images.victimOrg.digest },
      { name: 'deputy-push-2', reference: `${pushFront.host}/mirror/${VICTIM}/private:latest`, digest: images.victimMirror.digest },
    ];
    for (const { name, reference, digest } of cases) {
      const attempts = thoth.attempts.length;
      const response = await deliver(pushMode, await forgedBuild(name, reference, digest));
      await assertRefusedOutside(response, 'Build', name, `/apis/build.openshift.io/v1/namespaces/${NS}/builds`);
      assert.equal(thoth.attempts.length, attempts, 'nothing of the Build was submitted, its base image included');
    }
    assert.deepEqual(foreignReads(), [], 'the function sent the push registry no request for a victim\'s repository');
    for (const needle of ['victim-org', `mirror/${VICTIM}`, `mirror/${NS}/private`]) assert.deepEqual(sentToThoth(needle), [], `Thoth was sent neither the image nor a copy of it (${needle})`);
    const copied = await fetch(`${push.url}/v2/mirror/${NS}/private/tags/list`, { headers: { authorization: `Basic ${Buffer.from(`${DST.username}:${DST.password}`).toString('base64')}` } });
    assert.equal(copied.status, 404, 'no copy in the author\'s mirror');
  });

  it('issue 20, THOTH_DST_REGISTRY_REPOSITORIES: Thoth gets THOTH_DST_REGISTRY_* for the namespace\'s own repository, and victim-org/private is refused', async () => {
    const own = await deliver(dstMode, await forgedBuild('dst-own-1', `${pushFront.host}/${NS}/app:latest`, images.ownOnDst.digest));
    assert.equal(own.status, 200, await own.clone().text());
    const honest = thoth.submissions.find((entry) => entry.body?.output_image === `${pushFront.host}/${NS}/app@${images.ownOnDst.digest}`);
    assert.equal(honest?.query['output_registry_password'], DST.password, 'the rule lets the namespace\'s own repository through');
    const attempts = thoth.attempts.length;
    const response = await deliver(dstMode, await forgedBuild('dst-deputy-1', `${pushFront.host}/victim-org/private:latest`, images.victimOrg.digest));
    await assertRefusedOutside(response, 'Build', 'dst-deputy-1', `/apis/build.openshift.io/v1/namespaces/${NS}/builds`);
    assert.equal(thoth.attempts.length, attempts, 'nothing of the Build was submitted, its base image included');
    assert.deepEqual(sentToThoth('victim-org'), [], 'Thoth never received victim-org/private, with or without the credentials');
    assert.deepEqual(foreignReads(), []);
  });

  it('issue 20, forged Tekton and Shipwright results: another namespace\'s image or an attacker host gets no operator credential and is not read with one', async () => {
    const taskRun = (name: string, url: string, digest: string) => createWithStatus(cp,
      { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name, namespace: NS }, spec: { taskRef: { name: 'buildah' } } },
      { podName: `${name}-pod`, conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
        results: [{ name: 'IMAGE_URL', type: 'string', value: url }, { name: 'IMAGE_DIGEST', type: 'string', value: digest }] });
    const pipelineRun = (name: string, url: string, digest: string) => createWithStatus(cp,
      { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name, namespace: NS }, spec: { pipelineRef: { name: 'build' } } },
      { conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }], results: [{ name: 'IMAGES', value: `${url}@${digest}` }] });
    const buildRun = (name: string, url: string, digest: string) => createWithStatus(cp,
      { apiVersion: 'shipwright.io/v1beta1', kind: 'BuildRun', metadata: { name, namespace: NS }, spec: { build: { name: 'app' }, output: { image: url } } },
      { conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', message: 'done', lastTransitionTime: '2026-11-02T00:00:00Z' }], output: { digest } });
    const kinds = [
      { make: taskRun, path: `/apis/tekton.dev/v1/namespaces/${NS}/taskruns` },
      { make: pipelineRun, path: `/apis/tekton.dev/v1/namespaces/${NS}/pipelineruns` },
      { make: buildRun, path: `/apis/shipwright.io/v1beta1/namespaces/${NS}/buildruns` },
    ];
    for (const [index, { make, path: apiPath }] of kinds.entries()) {
      // Another tenant's repository on the registry the push and DST credentials belong to: refused in both modes.
      for (const [mode, fn, url, digest] of [['push', pushMode, `${pushFront.host}/victim-org/private`, images.victimOrg.digest], ['dst', dstMode, `${pushFront.host}/victim-org/private`, images.victimOrg.digest],
        ['mirror', pushMode, `${pushFront.host}/mirror/${VICTIM}/private`, images.victimMirror.digest]] as const) {
        const name = `tenant-${mode}-${index}`;
        const object = await make(name, url, digest);
        await assertRefusedOutside(await deliver(fn, object), String(object['kind']), name, apiPath);
      }
      // Another namespace's image on the cluster registry (its ImageStream exists and is readable): a reference, without the token.
      const cross = await deliver(tokenMode, await make(`tenant-cross-${index}`, `${clusterRegistry.host}/${VICTIM}/private`, images.victim.digest));
      assert.ok(cross.status < 300, await cross.clone().text());
      // The attacker's own host: submitted as a reference, never contacted by the function, in token and push mode.
      for (const [mode, fn] of [['token', tokenMode], ['push', pushMode]] as const) {
        const response = await deliver(fn, await make(`tenant-author-${mode}-${index}`, `${author.host}/${NS}/app`, images.forged.digest));
        assert.ok(response.status < 300, await response.clone().text());
      }
    }
    assert.deepEqual(foreignReads(), [], 'no request for a victim\'s repository reached the push registry from the function');
    assert.deepEqual(sentToThoth('victim-org'), []);
    assert.deepEqual(sentToThoth(`mirror/${VICTIM}`), []);
    assert.deepEqual(credentialsFor(`${clusterRegistry.host}/${VICTIM}/private`), [], 'no token for another namespace\'s image');
    assert.ok(sentToThoth(`${clusterRegistry.host}/${VICTIM}/private`).length >= 3, 'the cross-namespace references were submitted, bare');
    assert.deepEqual(credentialsFor(`${author.host}/${NS}/app`), []);
    assert.deepEqual(authorizations(), [], 'the attacker\'s registry never receives an Authorization header');
    assert.deepEqual(fromFunction(), [], 'nor any request from the function');
  });

  it('leaks no secret in any encoding: logs, Events, annotations, replies and /metrics, through success, refusal, outage, TLS failure and timeout', async () => {
    const extraLogs: string[] = [];
    const extraMetrics: string[] = [];
    // A refusal whose body echoes the request's parameters, credentials included, as Thoth's do.
    const missing = `sha256:${'0'.repeat(64)}`;
    const refusedBuild = await forgedBuild('refused-1', `${clusterRegistry.host}/${NS}/app:latest`, missing);
    assert.equal((await deliver(tokenMode, refusedBuild)).status, 200);
    assert.equal((await deliver(pushMode, await forgedBuild('refused-push-1', `${clusterRegistry.host}/${NS}/app:latest`, missing))).status, 200);
    // Thoth down: the transient path and its 503.
    thoth.failNext(8, { status: 503 });
    assert.equal((await deliver(tokenMode, await forgedBuild('outage-1', `${clusterRegistry.host}/${NS}/app:latest`, images.app.digest))).status, 503);
    thoth.clearFailures();
    // A Thoth whose certificate does not verify, and one that never answers: TLS failure and timeout.
    const pki = await makeServerPki(await mkdir(path.join(dir, 'pki'), { recursive: true }).then(() => path.join(dir, 'pki')));
    const untrusted = await ThothStub.start({ tls: { key: await readFile(pki.keyPath), cert: await readFile(pki.certPath) }, plainHttpRegistries: [clusterRegistry.host] });
    const silent = await ThothStub.start({ plainHttpRegistries: [clusterRegistry.host] });
    silent.stallNext(100, 'any');
    const env = {
      KUBECONFIG: await cp.kubeconfigForServiceAccount(NS, 'build-watcher'),
      THOTH_WATCHED_NAMESPACE: NS,
      THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1',
      THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1',
      THOTH_PASS_TOKEN: '1',
      BUILD_WATCHER_TOKEN_FILE: path.join(dir, 'token'),
      THOTH_REQUEST_TIMEOUT_SECONDS: '1',
    };
    const tlsFailing = await startFunction({ env: { ...env, THOTH_USER_API_HOST: untrusted.url } });
    const timingOut = await startFunction({ env: { ...env, THOTH_USER_API_HOST: silent.url } });
    try {
      const tls = await deliver(tlsFailing, await forgedBuild('tls-1', `${clusterRegistry.host}/${NS}/app:latest`, images.app.digest));
      assert.equal(tls.headers.get('ce-type'), 'dev.build-watcher.analysis.refused', 'a certificate that does not verify is refused for good');
      const late = await deliver(timingOut, await forgedBuild('timeout-1', `${clusterRegistry.host}/${NS}/app:latest`, images.app.digest));
      assert.equal(late.status, 503);
      extraLogs.push(...tlsFailing.lines, ...timingOut.lines);
      extraMetrics.push(await (await fetch(`${tlsFailing.url}/metrics`)).text(), await (await fetch(`${timingOut.url}/metrics`)).text());
    } finally {
      await tlsFailing.stop();
      await timingOut.stop();
      await untrusted.close();
      await silent.close();
    }

    const forms = (secret: string, user?: string) => {
      const base64 = (text: string) => Buffer.from(text).toString('base64');
      return [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2), JSON.stringify(secret).slice(1, -1), base64(secret), ...(user ? [base64(`${user}:${secret}`)] : [])];
    };
    const secrets = [...forms(TOKEN, 'build-watcher'), ...forms(SRC.password, SRC.username), ...forms(DST.password, DST.username)];
    const events = JSON.stringify(await cp.admin.json({ path: `/api/v1/namespaces/${NS}/events` }));
    const objects = JSON.stringify(await cp.admin.json({ path: `/apis/build.openshift.io/v1/namespaces/${NS}/builds` }));
    const metrics = [...(await Promise.all([tokenMode, pushMode, dstMode].map(async (fn) => (await fetch(`${fn.url}/metrics`)).text()))), ...extraMetrics].join('\n');
    const logs = [...tokenMode.lines, ...pushMode.lines, ...dstMode.lines, ...extraLogs].join('\n');
    for (const [where, text] of Object.entries({ logs, events, annotations: objects, replies: replies.join('\n'), metrics })) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `a form of a secret is in the ${where}`);
    }
    assert.ok(thoth.attempts.some((attempt) => attempt.images.some((image) => image.password === TOKEN)), 'the check is not vacuous: the token did travel, to Thoth');
  });
});
