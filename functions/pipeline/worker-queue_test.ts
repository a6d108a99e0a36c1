/**
 * The pipeline's admission under parallel delivery (functions/concurrency.ts through analyzeObject):
 * live deliveries go before a sweep's queued objects, and a delivery that waits for a worker
 * answers before its deadline. Interleavings are forced by holding Thoth's answers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCluster, MemoryThoth, memoryPipeline } from '../../test/fakes/in-memory-cluster.js';
import { limitConcurrency, NoWorkerFree, type Priority } from '../concurrency.js';
import { loadConfig } from '../config.js';
import { runSweep } from '../sweep/sweep.js';
import { collectionsFor, sourcesFor } from '../wiring.js';
import { waitFor } from '../../test/harness/wait.js';
import { analyzeObject } from './analyze.js';

const NS = 'myproject';
const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const config = loadConfig({ THOTH_USER_API_HOST: 'thoth.example.com', THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1' });

function build(name: string, n: number) {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace: NS, annotations: {} },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: `quay.io/org/${name}:latest` } } },
    status: { phase: 'Complete', outputDockerImageReference: `quay.io/org/${name}:latest`, output: { to: { imageDigest: digestOf(n) } } },
  };
}

/** A Thoth whose answers wait until `open()`; `order` lists the images in the order they reached it. */
function gatedThoth(thoth: MemoryThoth): { gated: MemoryThoth; order: string[]; open: () => void } {
  const order: string[] = [];
  let open = (): void => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const gated = Object.assign(Object.create(thoth) as MemoryThoth, {
    async submitBuildAnalysis(...args: Parameters<MemoryThoth['submitBuildAnalysis']>) {
      order.push(args[0].output?.image.split('/').pop()?.split('@')[0] ?? '?');
      await gate;
      return thoth.submitBuildAnalysis(...args);
    },
  });
  return { gated, order, open };
}

/** A limiter whose queue lengths the test can wait on. */
function observedLimiter(workers: number, queueLimit?: number) {
  const queues: Record<Priority, number> = { live: 0, background: 0 };
  const limit = limitConcurrency(workers, { ...(queueLimit !== undefined ? { queueLimit } : {}), onQueueChange: (priority, waiting) => (queues[priority] = waiting) });
  return { limit, queues };
}

const until = (what: string, condition: () => boolean): Promise<true> =>
  waitFor(async () => (condition() ? true : undefined), { what, timeoutMs: 20_000, intervalMs: 5 });

describe('admission under parallel delivery', () => {
  it('a live event overtakes every object a sweep has queued', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const { gated, order, open } = gatedThoth(thoth);
    for (let i = 0; i < 5; i++) cluster.put(build(`swept-${i}`, i));
    const { limit, queues } = observedLimiter(1);
    const deps = memoryPipeline(cluster, gated, sourcesFor(config), { limit });
    const sweep = runSweep({ lister: cluster, pipeline: deps }, { collections: collectionsFor(config), namespaces: [NS], batch: 200, pageSize: 2 });
    // The one worker holds swept-0 at Thoth; the sweep's other four objects wait behind it.
    await until('swept-0 at Thoth, four swept objects queued', () => order.length === 1 && queues.background === 4);
    assert.deepEqual(order, ['swept-0']);
    const live = cluster.put(build('live', 100));
    const delivery = analyzeObject({ payload: live, ref: live, action: 'update' }, deps, { deadlineMs: 270_000 });
    await until('the live delivery queued', () => queues.live === 1);
    open();
    assert.equal((await delivery).kind, 'submitted');
    assert.equal((await sweep).submitted, 5);
    assert.deepEqual(order, ['swept-0', 'live', 'swept-1', 'swept-2', 'swept-3', 'swept-4']);
  });

  it('a delivery still waiting for a worker holds nothing fetched, is answered 503 (transient) before its deadline, and never runs', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const { gated, order, open } = gatedThoth(thoth);
    const { limit, queues } = observedLimiter(1);
    const deps = memoryPipeline(cluster, gated, sourcesFor(config), { limit });
    const first = cluster.put(build('first', 1));
    const running = analyzeObject({ payload: first, ref: first, action: 'update' }, deps, { deadlineMs: 270_000 });
    await until('the first at Thoth', () => order.length === 1);
    const [reads, patches] = [cluster.reads, cluster.patches.length];
    const deadlineMs = 400;
    const second = cluster.put(build('second', 2));
    const queued = analyzeObject({ payload: second, ref: second, action: 'update' }, deps, { deadlineMs });
    await until('the live delivery queued', () => queues.live === 1);
    // Timers fire in the order they expire, however late a busy machine runs them.
    let deadlinePassed = false;
    setTimeout(() => (deadlinePassed = true), deadlineMs);
    await assert.rejects(queued, (error: unknown) => error instanceof NoWorkerFree && error.why === 'deadline' && error.kind === 'transient');
    assert.equal(deadlinePassed, false, 'answered before the delivery deadline');
    assert.deepEqual([cluster.reads, cluster.patches.length], [reads, patches], 'while it waited it read, claimed and fetched nothing');
    await until('the queue empty', () => queues.live === 0);
    open();
    assert.equal((await running).kind, 'submitted');
    assert.deepEqual(order, ['first'], 'the delivery that gave up never reached Thoth');
    // Its redelivery finds a free worker.
    assert.equal((await analyzeObject({ payload: second, ref: second, action: 'update' }, deps, { deadlineMs })).kind, 'submitted');
  });

  it('a redelivery of an object already under way joins it without a queue place', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const { gated, order, open } = gatedThoth(thoth);
    const { limit } = observedLimiter(1, 0);
    const deps = memoryPipeline(cluster, gated, sourcesFor(config), { limit });
    const object = cluster.put(build('once', 1));
    const first = analyzeObject({ payload: object, ref: object, action: 'update' }, deps, { deadlineMs: 270_000 });
    await until('the first at Thoth', () => order.length === 1);
    // With no queue at all, another object is turned away at once, but the redelivery waits for the work.
    const other = cluster.put(build('other', 2));
    await assert.rejects(analyzeObject({ payload: other, ref: other, action: 'update' }, deps, { deadlineMs: 270_000 }),
      (error: unknown) => error instanceof NoWorkerFree && error.why === 'queue-full');
    const again = analyzeObject({ payload: object, ref: object, action: 'update' }, deps, { deadlineMs: 270_000 });
    open();
    assert.equal((await first).kind, 'submitted');
    assert.equal((await again).kind, 'ignored', 'the submission is answered once, to the first delivery');
    assert.deepEqual(order, ['once']);
  });
});
