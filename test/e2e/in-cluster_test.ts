/**
 * The pod's own account, read without client-node (functions/kube/cluster-access.ts), against
 * the real API server: the service account directory is the harness's copy of what the kubelet
 * mounts, and the server is found through KUBERNETES_SERVICE_HOST/PORT, as in a pod.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BuildWatcherError } from '../../functions/errors.js';
import { kubeApiOver } from '../../functions/kube/api.js';
import { inClusterAccess } from '../../functions/kube/cluster-access.js';
import { apiPath } from '../../functions/kube/object.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { makeServerPki } from '../registry/test-pki.js';
import { buildObject, createWithStatus, FUNCTION_RULES, prepareNamespace } from './cluster.js';

const NS = 'e2e-in-cluster';
const BUILD_PATH = apiPath({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name: 'seen' });

describe('in-cluster access, on the real API server', { timeout: 300_000 }, () => {
  let cp: ControlPlane;
  let scratch: string;

  before(async () => {
    cp = await startControlPlane();
    scratch = await mkdtemp(join(tmpdir(), 'bw-in-cluster-'));
    await prepareNamespace(cp, NS, { 'build-watcher': FUNCTION_RULES });
    await createWithStatus(cp, buildObject(NS, 'seen', 'registry.example/app:latest'), { phase: 'Running' });
  });

  after(async () => {
    await cp?.stop();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  const podEnv = (): NodeJS.ProcessEnv => ({ ...cp.inClusterEnv, HOME: scratch });

  it('reads a Build with the mounted token, verifying TLS against the mounted CA', async () => {
    const directory = await cp.serviceAccountDirectory(NS, 'build-watcher');
    const access = await inClusterAccess(podEnv(), directory);
    assert.ok(access !== undefined, 'a mounted token means in-cluster access');
    assert.equal(access.contextNamespace, NS);
    const answer = await kubeApiOver(access).request({ method: 'GET', path: BUILD_PATH });
    assert.equal(answer.status, 200);
    assert.equal((JSON.parse(answer.text) as { metadata: { name: string } }).metadata.name, 'seen');
  });

  it('re-reads a rotated token after a minute, and not before', async () => {
    const directory = await cp.serviceAccountDirectory(NS, 'build-watcher');
    let clock = 1_000_000;
    const access = await inClusterAccess(podEnv(), directory, () => clock);
    assert.ok(access !== undefined);
    const api = kubeApiOver(access);
    // Rotation to a token the server does not know: unused until the minute has passed.
    await writeFile(join(directory, 'token'), 'rotated-but-unknown');
    assert.equal((await api.request({ method: 'GET', path: BUILD_PATH })).status, 200);
    clock += 60_000;
    await assert.rejects(api.request({ method: 'GET', path: BUILD_PATH }), (error: unknown) => error instanceof Error && /Kubernetes API 401/.test(error.message));
    // And a valid new token is picked up the same way.
    await writeFile(join(directory, 'token'), await cp.tokenForServiceAccount(NS, 'build-watcher'));
    clock += 60_000;
    assert.equal((await api.request({ method: 'GET', path: BUILD_PATH })).status, 200);
  });

  it('refuses a server whose certificate the mounted CA did not sign', async () => {
    const directory = await cp.serviceAccountDirectory(NS, 'build-watcher');
    const stranger = await makeServerPki(await mkdtemp(join(scratch, 'pki-')));
    await copyFile(stranger.caPath, join(directory, 'ca.crt'));
    const access = await inClusterAccess(podEnv(), directory);
    assert.ok(access !== undefined);
    await assert.rejects(kubeApiOver(access).request({ method: 'GET', path: BUILD_PATH }), (error: unknown) => error instanceof BuildWatcherError && error.kind === 'refused' && /TLS verification failed/.test(error.message));
  });

  it('leaves a kubeconfig to client-node: KUBECONFIG or ~/.kube/config win over the mounted token', async () => {
    const directory = await cp.serviceAccountDirectory(NS, 'build-watcher');
    assert.equal(await inClusterAccess({ ...podEnv(), KUBECONFIG: cp.adminKubeconfigPath }, directory), undefined);
    const home = join(scratch, 'home');
    await mkdir(join(home, '.kube'), { recursive: true });
    await writeFile(join(home, '.kube', 'config'), '{}');
    assert.equal(await inClusterAccess({ ...podEnv(), HOME: home }, directory), undefined);
    assert.equal(await inClusterAccess(podEnv(), join(scratch, 'not-a-pod')), undefined, 'no token mounted: not in a pod');
  });

  it('names the missing variable when a token is mounted without the service address', async () => {
    const directory = await cp.serviceAccountDirectory(NS, 'build-watcher');
    await assert.rejects(inClusterAccess({ HOME: scratch }, directory), /KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not set/);
  });
});
