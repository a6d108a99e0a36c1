/**
 * The sweep's hand-off to K_SINK over real HTTP (a CloudEvents receiver on 127.0.0.1, port 0): its own share worked on here,
 * every further picked object sent as one dev.build-watcher.object.pending, and what becomes of those once delivered back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCluster, MemoryThoth, memoryPipeline } from '../../test/fakes/in-memory-cluster.js';
import { startEventSink } from '../../test/harness/event-sink.js';
import { loadConfig } from '../config.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { parseIncomingEvent } from '../events/intake.js';
import { collectionsFor, sourcesFor } from '../wiring.js';
import { describeSweep } from './describe.js';
import { handOffTo } from './hand-off.js';
import { analyzePicked } from './picked.js';
import { runSweep, type SweepDeps, type SweepOptions } from './sweep.js';

const NS = 'myproject';
const config = loadConfig({ THOTH_USER_API_HOST: 'thoth.example.com', THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1' });

function build(name: string, n: number) {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace: NS },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: `quay.io/org/${name}:latest` } } },
    status: { phase: 'Complete', outputDockerImageReference: `quay.io/org/${name}:latest`, output: { to: { imageDigest: `sha256:${n.toString(16).padStart(64, '0')}` } } },
  };
}

function sweep(deps: Omit<SweepDeps, 'lister'> & { lister: MemoryCluster }, options: Partial<SweepOptions> = {}) {
  return runSweep(deps, { collections: collectionsFor(config), namespaces: [NS], batch: 2, pageSize: 3, ...options });
}

const marked = (cluster: MemoryCluster, name: string) =>
  cluster.get({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name })?.annotations[ANNOTATIONS.submittedAt] !== undefined;

describe('the sweep hands off to K_SINK', () => {
  it('works its own share (the batch) and sends every further picked object as one object.pending; delivered back, each is submitted once', async () => {
    const sink = await startEventSink();
    try {
      const cluster = new MemoryCluster();
      const thoth = new MemoryThoth();
      const names = Array.from({ length: 7 }, (_, i) => `app-${i}`);
      names.forEach((name, i) => cluster.put(build(name, i + 1)));
      const deps = memoryPipeline(cluster, thoth, sourcesFor(config));
      const summary = await sweep({ lister: cluster, pipeline: deps, handOff: handOffTo(sink.url) });
      assert.deepEqual([summary.picked, summary.submitted, summary.handedOff, summary.failed, summary.complete], [7, 2, 5, 0, true], describeSweep(summary));
      assert.match(describeSweep(summary), /2 submitted, 5 handed to the Broker, 0 refused, 0 failed, of 7 picked/);
      assert.equal(sink.received.length, 5);
      const handed = sink.received.map((event) => JSON.parse(event.body) as Record<string, unknown>);
      for (const [i, event] of sink.received.entries()) {
        assert.equal(event.attributes['type'], 'dev.build-watcher.object.pending');
        assert.deepEqual(Object.keys(handed[i] ?? {}).sort(), ['apiVersion', 'kind', 'name', 'namespace']);
        assert.equal(event.attributes['subject'], `/apis/build.openshift.io/v1/namespaces/${NS}/builds/${String(handed[i]?.['name'])}`);
      }
      assert.equal(names.filter((name) => marked(cluster, name)).length, 2, 'handed-off objects are left to their deliveries');

      // What the function does with each delivery (functions/index.ts), twice over, as an at-least-once Broker may.
      const outcomes = [];
      for (const event of [...sink.received, ...sink.received]) {
        const parsed = parseIncomingEvent({ type: event.attributes['type'], data: event.body });
        assert.equal(parsed.mode, 'pending');
        if (parsed.mode === 'pending') outcomes.push((await analyzePicked(parsed.ref, deps, {})).kind);
      }
      assert.deepEqual(outcomes, [...Array(5).fill('submitted'), ...Array(5).fill('ignored')]);
      assert.ok(names.every((name) => marked(cluster, name)));
      assert.equal(thoth.builds.length, 7, 'each Build submitted once');
      assert.equal((await sweep({ lister: cluster, pipeline: deps, handOff: handOffTo(sink.url) })).picked, 0);
    } finally {
      await sink.close();
    }
  });

  it('ids: another sweep (a takeover after a crash) handing off the same unchanged objects sends the same ids; a new version of an object a new id', async () => {
    const sink = await startEventSink();
    try {
      const cluster = new MemoryCluster();
      for (let i = 0; i < 4; i++) cluster.put(build(`app-${i}`, i + 1));
      const deps = memoryPipeline(cluster, new MemoryThoth(), sourcesFor(config));
      const ids = async () => {
        const before = sink.received.length;
        await sweep({ lister: cluster, pipeline: deps, handOff: handOffTo(sink.url) }, { batch: 0 });
        return new Map(sink.received.slice(before).map((event) => [event.attributes['subject'], event.attributes['id']]));
      };
      const first = await ids();
      assert.equal(new Set(first.values()).size, 4, 'one id per object');
      assert.deepEqual(await ids(), first);
      const changed = cluster.get({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name: 'app-0' });
      assert.ok(changed !== undefined);
      cluster.put({ ...changed.raw, metadata: { ...(changed.raw['metadata'] as object), labels: { touched: 'yes' } } });
      const third = await ids();
      const path = `/apis/build.openshift.io/v1/namespaces/${NS}/builds/app-0`;
      assert.notEqual(third.get(path), first.get(path));
      assert.deepEqual([...third].filter(([subject]) => subject !== path), [...first].filter(([subject]) => subject !== path));
    } finally {
      await sink.close();
    }
  });

  it('counts a hand-off the sink refuses as failed, stops after 4 in a row, and leaves those objects to the next sweep', async () => {
    const sink = await startEventSink({ status: 400 });
    try {
      const cluster = new MemoryCluster();
      const thoth = new MemoryThoth();
      for (let i = 0; i < 12; i++) cluster.put(build(`app-${i}`, i + 1));
      const deps = memoryPipeline(cluster, thoth, sourcesFor(config));
      const summary = await sweep({ lister: cluster, pipeline: deps, handOff: handOffTo(sink.url) }, { batch: 1 });
      assert.equal(summary.submitted, 1);
      assert.ok(summary.failed >= 4, describeSweep(summary));
      assert.equal(summary.handedOff, 0);
      assert.match(summary.stoppedEarly ?? '', /4 transient failures in a row/);
      const next = await sweep({ lister: cluster, pipeline: deps }, { batch: 1 });
      assert.deepEqual([next.submitted, next.complete], [11, true], 'without a hand-off, the next sweep works on all of them here');
    } finally {
      await sink.close();
    }
  });
});
