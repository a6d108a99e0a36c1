import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freshPipeline, MemoryCluster, MemoryThoth, memoryPipeline } from '../../test/fakes/in-memory-cluster.js';
import { loadConfig } from '../config.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { analyzeObject, type PipelineDeps } from '../pipeline/analyze.js';
import { collectionsFor, sourcesFor } from '../wiring.js';
import { describeSweep } from './describe.js';
import { namespacesToSweep, ownNamespace } from './namespaces.js';
import { runSweep, type SweepOptions } from './sweep.js';
import type { SweepOutcome } from './tally.js';

const NS = 'myproject';
const REG = 'image-registry.openshift-image-registry.svc:5000';
const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

function build(name: string, phase: string, n = 1, annotations: Record<string, string> = {}) {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace: NS, annotations },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: `quay.io/org/${name}:latest` } } },
    status: { phase, outputDockerImageReference: `quay.io/org/${name}:latest`, output: { to: { imageDigest: digestOf(n) } } },
  };
}

const env = (extra: Record<string, string> = {}) =>
  loadConfig({ THOTH_USER_API_HOST: 'thoth.example.com', THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1', ...extra });

function pipeline(cluster: MemoryCluster, thoth: MemoryThoth, config = env(), now?: () => Date): PipelineDeps {
  return memoryPipeline(cluster, thoth, sourcesFor(config), {}, now !== undefined ? { now } : {});
}

/** A Thoth that takes `ticks` turns of the event loop per submission, and counts how many overlap. */
function slowThoth(thoth: MemoryThoth, ticks: number): { slow: MemoryThoth; peak: () => number } {
  let inFlight = 0;
  let peak = 0;
  const slow = Object.assign(Object.create(thoth) as MemoryThoth, {
    async submitBuildAnalysis(...args: Parameters<MemoryThoth['submitBuildAnalysis']>) {
      peak = Math.max(peak, ++inFlight);
      for (let tick = 0; tick < ticks; tick++) await new Promise((resolve) => setImmediate(resolve));
      try {
        return await thoth.submitBuildAnalysis(...args);
      } finally {
        inFlight--;
      }
    },
  });
  return { slow, peak: () => peak };
}

function sweep(cluster: MemoryCluster, deps: PipelineDeps, options: Partial<SweepOptions> = {}, config = env()) {
  const outcomes: [string, SweepOutcome][] = [];
  const summary = runSweep(
    { lister: cluster, pipeline: deps, onOutcome: (kind, outcome) => outcomes.push([kind, outcome]) },
    { collections: collectionsFor(config), namespaces: [NS], batch: 200, pageSize: 2, ...options },
  );
  return { summary, outcomes };
}

describe('the catch-up sweep', () => {
  it('submits finished, unmarked Builds once across pages; a second sweep submits nothing', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    for (const [name, phase, marked] of [
      ['a-complete', 'Complete', false],
      ['b-running', 'Running', false],
      ['c-done', 'Complete', true],
      ['d-failed', 'Failed', false],
      ['e-cancelled', 'Cancelled', false],
      ['f-error', 'Error', false],
      ['g-complete', 'Complete', false],
    ] as const) {
      cluster.put(build(name, phase, name.charCodeAt(0), marked ? { [ANNOTATIONS.submittedAt]: '2026-01-01T00:00:00Z' } : {}));
    }
    // Failed and Error builds send their base image and log only; this config sends the base.
    const deps = pipeline(cluster, thoth);
    const first = sweep(cluster, deps);
    const summary = await first.summary;
    assert.equal(summary.submitted, 2, describeSweep(summary));
    assert.deepEqual(thoth.builds.map((request) => request.output?.image).sort(), [
      `quay.io/org/a-complete@${digestOf(97)}`,
      `quay.io/org/g-complete@${digestOf(103)}`,
    ]);
    assert.equal(summary.kinds['Build']?.listed, 7);
    assert.equal(summary.kinds['Build']?.skipped, 5, 'Failed/Error have nothing to send with no base image and no log');
    assert.ok(summary.complete);
    assert.ok(cluster.pageRequests.some((request) => request.continueToken !== undefined), 'paged with continue tokens');
    assert.ok(cluster.pageRequests.every((request) => request.limit === 2));
    assert.deepEqual(first.outcomes.filter(([, outcome]) => outcome === 'submitted').length, 2);

    const again = await sweep(cluster, deps).summary;
    assert.equal(again.submitted, 0);
    assert.equal(again.picked, 0, 'marked Builds are not even picked: no API call, no Thoth call');
    assert.equal(thoth.builds.length, 2);
  });

  it('picks Failed and Error Builds when there is something to send (the log)', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    cluster.put(build('failed', 'Failed'));
    cluster.put(build('error', 'Error'));
    const config = env({ THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '0' });
    const summary = await sweep(cluster, pipeline(cluster, thoth, config), {}, config).summary;
    assert.equal(summary.submitted, 2);
    assert.ok(thoth.builds.every((request) => request.output === undefined && request.buildLog !== undefined));
  });

  it('holds at most the batch of picked objects at once, within the workers, and picks on until everything is done', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const { slow, peak } = slowThoth(thoth, 1);
    for (let i = 0; i < 7; i++) cluster.put(build(`app-${i}`, 'Complete', i));
    const fresh = freshPipeline(cluster, {}, 2);
    // Every picked object enters the worker limit once (a busy one looks again only after its first look ended).
    let held = 0;
    let mostHeld = 0;
    const limit: typeof fresh.limit = async (task) => {
      mostHeld = Math.max(mostHeld, ++held);
      try {
        return await fresh.limit(task);
      } finally {
        held--;
      }
    };
    const deps = { ...pipeline(cluster, thoth), ...fresh, limit, submitter: slow };
    const summary = await sweep(cluster, deps, { batch: 3 }).summary;
    assert.deepEqual([summary.submitted, summary.picked, summary.complete], [7, 7, true], describeSweep(summary));
    assert.equal(mostHeld, 3, 'the listing waits while the batch is unfinished');
    assert.equal(peak(), 2, 'never more than THOTH_BUILD_WATCHER_WORKERS at once');
    assert.equal(new Set(thoth.builds.map((request) => request.output?.image)).size, 7);
    assert.equal((await sweep(cluster, deps, { batch: 3 }).summary).picked, 0, 'the next sweep finds nothing to do');
  });

  it('stops picking when its time is up, reports itself incomplete, and the next sweep goes on', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    for (let i = 0; i < 4; i++) cluster.put(build(`late-${i}`, 'Complete', i));
    const deps = pipeline(cluster, thoth);
    const late = await sweep(cluster, deps, { pickUntil: Date.now() - 1 }).summary;
    assert.equal(late.complete, false);
    assert.equal(late.submitted, 0);
    const next = await sweep(cluster, deps).summary;
    assert.equal(next.submitted, 4);
    assert.equal(next.complete, true);
  });

  it('remembers refusals so that refused objects are not picked again for a day', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    thoth.refuse = (image) => image.includes('/a-bad');
    for (let i = 0; i < 3; i++) cluster.put(build(`a-bad-${i}`, 'Complete', i));
    for (let i = 0; i < 2; i++) cluster.put(build(`b-good-${i}`, 'Complete', 10 + i));
    let now = new Date('2026-11-20T00:00:00Z');
    const deps = pipeline(cluster, thoth, env(), () => now);

    const first = await sweep(cluster, deps, { batch: 3 }).summary;
    assert.deepEqual([first.refused, first.submitted], [3, 2], describeSweep(first));
    assert.ok(cluster.get({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name: 'a-bad-0' })?.annotations[ANNOTATIONS.sweepRefusedAt]);
    assert.equal((await sweep(cluster, deps, { batch: 3 }).summary).picked, 0, 'refused objects are left alone');

    now = new Date(now.getTime() + 25 * 60 * 60 * 1000);
    thoth.refuse = () => false;
    const later = await sweep(cluster, deps, { batch: 3 }).summary;
    assert.equal(later.submitted, 3, 'refused objects are retried after a day');
  });

  it('stops early when Thoth keeps failing, leaves the objects unmarked, and the next sweep submits them', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    thoth.fail = () => true;
    for (let i = 0; i < 10; i++) cluster.put(build(`app-${i}`, 'Complete', i));
    const deps = { ...pipeline(cluster, thoth), ...freshPipeline(cluster, {}, 1) };
    const failing = await sweep(cluster, deps, { maxConsecutiveFailures: 3 }).summary;
    // The object a freed worker had already started when the third failure was counted may fail too.
    assert.ok(failing.failed >= 3 && failing.failed <= 4, describeSweep(failing));
    assert.equal(failing.complete, false);
    assert.match(failing.stoppedEarly ?? '', /3 transient failures in a row/);
    const marked = ['app-0', 'app-1', 'app-2', 'app-3'].map((name) => cluster.get({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name }));
    // Not marked done; the claim stays ours, so the retry resumes under it.
    assert.ok(marked.every((object) => object !== undefined && object.annotations[ANNOTATIONS.submittedAt] === undefined));

    thoth.fail = () => false;
    const recovered = await sweep(cluster, deps).summary;
    assert.equal(recovered.submitted, 10);
    assert.equal(recovered.failed, 0);
  });

  it('skips kinds that are not installed or not allowed, retries a flaky list, and reports a dead one as a listing failure', async () => {
    const config = env({ BUILD_WATCHER_SOURCE_KINDS: 'Build,TaskRun,BuildRun' });
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    cluster.put(build('app', 'Complete'));
    cluster.listStatus.set('tekton.dev/v1/TaskRun', 404);
    cluster.listStatus.set('shipwright.io/v1beta1/BuildRun', 403);
    cluster.failPages = 1;
    const summary = await sweep(cluster, pipeline(cluster, thoth, config), {}, config).summary;
    assert.equal(summary.submitted, 1);
    assert.equal(summary.failed, 0);
    assert.deepEqual(summary.unavailable.map((entry) => entry.split(' (')[0]), [`TaskRun in ${NS}`, `BuildRun in ${NS}`]);

    cluster.failPages = 10;
    const dead = await sweep(cluster, pipeline(cluster, thoth, config), {}, config).summary;
    assert.deepEqual([dead.listingFailed, dead.failed, dead.picked, dead.complete], [true, 0, 0, false]);
  });

  it('overlaps safely with a live event for the same object: one submission', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const live = cluster.put(build('app', 'Complete'));
    const deps = pipeline(cluster, thoth);
    const [summary, outcome] = await Promise.all([sweep(cluster, deps).summary, analyzeObject({ payload: live, ref: live, action: 'update' }, deps)]);
    assert.equal(thoth.builds.length, 1);
    assert.equal(summary.submitted + (outcome.kind === 'submitted' ? 1 : 0), 1);
  });

  it('shares the worker limit with live events: never more than THOTH_BUILD_WATCHER_WORKERS at once (B3)', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const { slow, peak } = slowThoth(thoth, 5);
    for (let i = 0; i < 6; i++) cluster.put(build(`swept-${i}`, 'Complete', i));
    const deps = { ...pipeline(cluster, thoth), ...freshPipeline(cluster, {}, 2), submitter: slow };
    const events = ['live-0', 'live-1', 'live-2'].map((name, i) => {
      const live = cluster.put(build(name, 'Complete', 100 + i));
      return analyzeObject({ payload: live, ref: live, action: 'update' }, deps);
    });
    const swept = sweep(cluster, deps).summary;
    await Promise.all([swept, ...events]);
    assert.equal(thoth.builds.length, 9);
    assert.equal(peak(), 2, 'events and the sweep share THOTH_BUILD_WATCHER_WORKERS');
  });

  it('counts an object another live process has claimed as busy, not failed, and does not stop early', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    for (let i = 0; i < 5; i++) cluster.put(build(`held-${i}`, 'Complete', i, { [ANNOTATIONS.claim]: 'other-pod 1 60s' }));
    cluster.put(build('free', 'Complete', 9));
    const summary = await sweep(cluster, pipeline(cluster, thoth), { maxConsecutiveFailures: 2 }).summary;
    assert.equal(summary.busy, 5, describeSweep(summary));
    assert.equal(summary.failed, 0);
    assert.equal(summary.submitted, 1);
    assert.equal(summary.stoppedEarly, undefined);
    assert.match(describeSweep(summary), /5 busy/);
  });

  it('sweeps ImageStream tags only with THOTH_ANALYZE_EXISTING (or the ImageStream kind), by /analyze', async () => {
    const stream = {
      apiVersion: 'image.openshift.io/v1',
      kind: 'ImageStream',
      metadata: { name: 'app', namespace: NS },
      status: {
        dockerImageRepository: `${REG}/${NS}/app`,
        tags: [{ tag: 'latest', items: [{ created: '2026-11-01T00:00:00Z', dockerImageReference: `${REG}/${NS}/app@${digestOf(5)}`, image: digestOf(5), generation: 1 }] }],
      },
    };
    for (const [extra, expected] of [[{}, 0], [{ THOTH_ANALYZE_EXISTING: '1' }, 1], [{ BUILD_WATCHER_SOURCE_KINDS: 'Build,ImageStream' }, 1]] as const) {
      const config = env(extra);
      const cluster = new MemoryCluster();
      const thoth = new MemoryThoth();
      cluster.put(stream);
      await sweep(cluster, pipeline(cluster, thoth, config), {}, config).summary;
      assert.deepEqual(thoth.images.map((request) => request.image), expected === 1 ? [`${REG}/${NS}/app@${digestOf(5)}`] : [], JSON.stringify(extra));
      if (expected === 1) assert.equal((await sweep(cluster, pipeline(cluster, thoth, config), {}, config).summary).submitted, 0);
    }
  });
});

describe('which namespaces a sweep covers', () => {
  it('the watched ones, else POD_NAMESPACE, else the service account file, else none', async () => {
    assert.deepEqual(await namespacesToSweep(['a', 'b'], async () => 'own'), ['a', 'b']);
    assert.deepEqual(await namespacesToSweep([], async () => 'own'), ['own']);
    assert.deepEqual(await namespacesToSweep([], async () => undefined), []);
    assert.equal(await ownNamespace('pod-ns', '/nonexistent'), 'pod-ns');
    assert.equal(await ownNamespace('', '/nonexistent'), undefined);
    const dir = await mkdtemp(join(tmpdir(), 'bw-namespace-'));
    try {
      await writeFile(join(dir, 'namespace'), 'from-file\n');
      assert.equal(await ownNamespace('', join(dir, 'namespace')), 'from-file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
