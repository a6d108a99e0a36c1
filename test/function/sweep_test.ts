/**
 * A sweep CloudEvent through the real runtime: what the function answers it with, and its
 * limits (one batch per sweep, one sweep at a time, no sweep without namespaces). The API server
 * is a MemoryCluster over HTTP, reached through a kubeconfig; no Thoth is configured, so a
 * submitted object is one whose images were pinned by digest and which was marked.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { MemoryCluster } from '../fakes/in-memory-cluster.js';
import { serveMemoryCluster, type MemoryApiServer } from '../fakes/memory-api-server.js';
import { postCloudEvent, startFunction, type RunningFunction } from './run-function.js';

const NS = 'team';

function completeBuild(name: string, digit: string, namespace = NS): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: `quay.io/org/${name}:1` } } },
    status: { phase: 'Complete', outputDockerImageReference: `quay.io/org/${name}:1`, output: { to: { imageDigest: `sha256:${digit.repeat(64)}` } } },
  };
}

const sweep = (fn: RunningFunction) => postCloudEvent(fn.url, 'dev.build-watcher.sweep.requested', '{}');

interface Summary {
  readonly namespaces: readonly string[];
  readonly submitted: number;
  readonly failed: number;
  readonly picked: number;
  readonly complete: boolean;
}

async function completed(response: Response): Promise<Summary> {
  assert.equal(response.status, 200, await response.clone().text());
  assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.sweep.completed');
  return (await response.json()) as Summary;
}

describe('a sweep request through faas-js-runtime', () => {
  const cluster = new MemoryCluster();
  let api: MemoryApiServer;
  let dir: string;
  let fn: RunningFunction;
  let nowhere: RunningFunction;
  let everywhere: RunningFunction;
  const buildLists = () => api.requests.filter((request) => request.endsWith('/builds'));
  const marked = (name: string) => cluster.get({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name })?.annotations[ANNOTATIONS.submittedAt] !== undefined;

  before(async () => {
    api = await serveMemoryCluster(cluster);
    dir = await mkdtemp(path.join(tmpdir(), 'bw-sweep-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, api.kubeconfig());
    const env = { KUBECONFIG: kubeconfig, THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1' };
    [fn, nowhere, everywhere] = await Promise.all([
      startFunction({ env: { ...env, THOTH_WATCHED_NAMESPACE: NS, BUILD_WATCHER_SWEEP_BATCH: '1' } }),
      // Neither THOTH_WATCHED_NAMESPACE nor POD_NAMESPACE, and not in a pod.
      startFunction({ env }),
      startFunction({ env: { ...env, BUILD_WATCHER_SWEEP_ALL_NAMESPACES: '1' } }),
    ]);
  });

  after(async () => {
    await Promise.all([fn?.stop(), nowhere?.stop(), everywhere?.stop()]);
    await api?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('answers sweep.completed with the summary; a full batch leaves the rest to the next sweep', async () => {
    cluster.put(completeBuild('app-1', '1'));
    cluster.put(completeBuild('app-2', '2'));
    const first = await completed(await sweep(fn));
    assert.deepEqual([first.submitted, first.picked, first.complete], [1, 1, false]);
    assert.equal([marked('app-1'), marked('app-2')].filter(Boolean).length, 1);
    await fn.waitForLine(/sweep: 1 submitted, 0 refused, 0 failed, of 1 picked from 1 Build listed in team; batch full, the rest next sweep/);

    const second = await completed(await sweep(fn));
    assert.equal(second.submitted, 1);
    assert.ok(marked('app-1') && marked('app-2'));
    const third = await completed(await sweep(fn));
    assert.deepEqual([third.submitted, third.picked, third.complete], [0, 0, true]);
  });

  it('runs one sweep at a time: a request during a sweep is answered with that sweep\'s summary', async () => {
    cluster.put(completeBuild('app-3', '3'));
    api.holdLists();
    const lists = buildLists().length;
    const first = sweep(fn);
    await waitFor(() => buildLists().length > lists);
    const second = sweep(fn);
    await fn.waitForLine(/a sweep is already running in this instance/);
    api.releaseLists();
    const [one, two] = await Promise.all([completed(await first), completed(await second)]);
    assert.deepEqual(one, two);
    assert.equal(one.submitted, 1);
    assert.equal(cluster.patches.filter(({ key, annotations }) => key.endsWith('/app-3') && annotations[ANNOTATIONS.submittedAt] !== undefined).length, 1);
  });

  it('answers 503 with the summary when an object failed for a transient reason, so the Broker redelivers', async () => {
    cluster.put(completeBuild('app-4', '4'));
    api.patchStatus = 500;
    try {
      const response = await sweep(fn);
      assert.equal(response.status, 503);
      assert.match(await response.text(), /^sweep: 0 submitted, 0 refused, 1 failed, of 1 picked/);
    } finally {
      api.patchStatus = undefined;
    }
    assert.equal((await completed(await sweep(fn))).submitted, 1, 'the next sweep submits it');
  });

  it('refuses with 422 when it cannot tell which namespaces to sweep', async () => {
    const response = await sweep(nowhere);
    assert.equal(response.status, 422);
    assert.match(await response.text(), /cannot tell which namespaces to sweep: set THOTH_WATCHED_NAMESPACE or POD_NAMESPACE/);
  });

  it('sweeps every namespace with BUILD_WATCHER_SWEEP_ALL_NAMESPACES, in one cluster-wide list per kind', async () => {
    cluster.put(completeBuild('elsewhere-1', '5', 'other-team'));
    const before = buildLists().length;
    const summary = await completed(await sweep(everywhere));
    assert.deepEqual([summary.submitted, summary.namespaces], [1, ['*']]);
    assert.deepEqual(buildLists().slice(before), ['GET /apis/build.openshift.io/v1/builds']);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
