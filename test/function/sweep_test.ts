/**
 * A sweep CloudEvent through the real runtime: what the function answers it with, and its
 * limits (the batch of objects held at once, one sweep at a time, no sweep without namespaces);
 * with K_SINK, its hand-off of objects as dev.build-watcher.object.pending and their intake. The API server
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
import { startEventSink, type EventSink } from '../harness/event-sink.js';
import { serveMemoryCluster, type MemoryApiServer } from '../fakes/memory-api-server.js';
import { postCloudEvent, startFunction, type RunningFunction } from './run-function.js';

const NS = 'team';
/** The namespace the function with K_SINK watches. */
const HANDED = 'handed';

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
  readonly handedOff: number;
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
  let handing: RunningFunction;
  let sink: EventSink;
  const buildLists = () => api.requests.filter((request) => request.endsWith('/builds'));
  const marked = (name: string) => cluster.get({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name })?.annotations[ANNOTATIONS.submittedAt] !== undefined;

  before(async () => {
    api = await serveMemoryCluster(cluster);
    dir = await mkdtemp(path.join(tmpdir(), 'bw-sweep-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, api.kubeconfig());
    const env = { KUBECONFIG: kubeconfig, THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1' };
    sink = await startEventSink();
    [fn, nowhere, everywhere, handing] = await Promise.all([
      startFunction({ env: { ...env, THOTH_WATCHED_NAMESPACE: NS, BUILD_WATCHER_SWEEP_BATCH: '1' } }),
      // Neither THOTH_WATCHED_NAMESPACE nor POD_NAMESPACE, and not in a pod.
      startFunction({ env }),
      startFunction({ env: { ...env, BUILD_WATCHER_SWEEP_ALL_NAMESPACES: '1' } }),
      startFunction({ env: { ...env, THOTH_WATCHED_NAMESPACE: HANDED, BUILD_WATCHER_SWEEP_BATCH: '1', K_SINK: sink.url } }),
    ]);
  });

  after(async () => {
    await Promise.all([fn?.stop(), nowhere?.stop(), everywhere?.stop(), handing?.stop(), sink?.close()]);
    await api?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('answers sweep.completed with the summary; the batch bounds the objects held at once, not the sweep', async () => {
    cluster.put(completeBuild('app-1', '1'));
    cluster.put(completeBuild('app-2', '2'));
    const first = await completed(await sweep(fn));
    assert.deepEqual([first.submitted, first.picked, first.complete], [2, 2, true]);
    assert.ok(marked('app-1') && marked('app-2'));
    await fn.waitForLine(/sweep: 2 submitted, 0 refused, 0 failed, of 2 picked from 2 Build listed in team/);
    const second = await completed(await sweep(fn));
    assert.deepEqual([second.submitted, second.picked, second.complete], [0, 0, true]);
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

  it('answers 200 with the failures counted when an object failed for a transient reason, so the Broker does not redeliver it; the next sweep submits it', async () => {
    cluster.put(completeBuild('app-4', '4'));
    api.patchStatus = 500;
    try {
      const summary = await completed(await sweep(fn));
      assert.deepEqual([summary.submitted, summary.failed, summary.picked], [0, 1, 1]);
      await fn.waitForLine(/sweep: 0 submitted, 0 refused, 1 failed, of 1 picked/);
      assert.match(await (await fetch(`${fn.url}/metrics`)).text(), /build_watcher_sweep_objects_total\{kind="Build",outcome="failed",[^}]*\} 1\n/);
    } finally {
      api.patchStatus = undefined;
    }
    assert.equal((await completed(await sweep(fn))).submitted, 1, 'the next sweep submits it');
  });

  it('answers 503 only when it could not run at all: no listing answered', async () => {
    api.listStatus = 503;
    try {
      const response = await sweep(fn);
      assert.equal(response.status, 503);
      assert.match(await response.text(), /^sweep: 0 submitted, 0 refused, 0 failed, of 0 picked from nothing listed in team; stopped early \(listing Build in team failed\)/);
    } finally {
      api.listStatus = undefined;
    }
  });

  it('with K_SINK, works its own share and hands the rest to K_SINK as object.pending; delivered back, each is submitted once; a redelivery costs one GET', async () => {
    for (const [name, digit] of [['fan-1', 'a'], ['fan-2', 'b'], ['fan-3', 'c']] as const) cluster.put(completeBuild(name, digit, HANDED));
    const summary = await completed(await sweep(handing));
    assert.deepEqual([summary.submitted, summary.handedOff, summary.picked, summary.complete], [1, 2, 3, true]);
    const pending = sink.received.filter((event) => event.attributes['type'] === 'dev.build-watcher.object.pending');
    assert.equal(pending.length, 2);
    const patches = () => cluster.patches.filter(({ key, annotations }) => key.includes('/fan-') && annotations[ANNOTATIONS.submittedAt] !== undefined).length;
    assert.equal(patches(), 1);
    let redelivered = 0;
    for (const round of [1, 2]) {
      redelivered = api.requests.length;
      for (const event of pending) {
        const response = await postCloudEvent(handing.url, 'dev.build-watcher.object.pending', event.body);
        assert.ok(response.status < 300, `round ${round}: ${response.status} ${await response.text()}`);
      }
    }
    assert.equal(patches(), 3, 'each Build marked once, the redelivery included');
    const names = pending.map((event) => (JSON.parse(event.body) as { name: string }).name).sort();
    assert.deepEqual(api.requests.slice(redelivered).sort(), names.map((name) => `GET /apis/build.openshift.io/v1/namespaces/${HANDED}/builds/${name}`),
      'a redelivery of a marked object costs one GET of it and nothing else');
  });

  it('takes object.pending strictly: bad data is a 400 with one line why, another namespace a 403', async () => {
    const ref = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: HANDED, name: 'fan-1' };
    const extra = await postCloudEvent(handing.url, 'dev.build-watcher.object.pending', JSON.stringify({ ...ref, object: { spec: {} } }));
    assert.equal(extra.status, 400);
    assert.equal(await extra.text(), 'dev.build-watcher.object.pending: unexpected field "object": expected only {apiVersion, kind, name, namespace}\n');
    const elsewhere = await postCloudEvent(handing.url, 'dev.build-watcher.object.pending', JSON.stringify({ ...ref, namespace: 'kube-system' }));
    assert.equal(elsewhere.status, 403);
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
    assert.deepEqual([summary.submitted, summary.namespaces], [1, ['*']], JSON.stringify(summary));
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
