import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCluster, MemoryRecorder, MemoryThoth, memoryLogger } from '../../test/fakes/in-memory-cluster.js';
import { buildSource } from '../builds/source.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { BuildWatcherError } from '../errors.js';
import type { KubeObject } from '../events/intake.js';
import { analyseObject, type PipelineDeps } from './analyse.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;

function completeBuild(name: string): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace: 'team' },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: 'quay.io/team/app:1' } } },
    status: { phase: 'Complete', outputDockerImageReference: 'quay.io/team/app:1', output: { to: { imageDigest: DIGEST } } },
  };
}

function setup() {
  const cluster = new MemoryCluster();
  const thoth = new MemoryThoth();
  const recorder = new MemoryRecorder();
  const log = memoryLogger();
  const deps: PipelineDeps = {
    store: cluster,
    recorder,
    submitter: thoth,
    sources: new Map([
      ['build.openshift.io/v1/Build', buildSource({ sendBaseImage: true, sendOutputImage: true, sendBuildLog: false }, { passToken: false, tokenFile: '', sourceRegistryVerifyTls: true })],
    ]),
    analysisOptions: {},
    trustEventPayload: false,
    log,
  };
  return { cluster, thoth, recorder, log, deps };
}

const analyse = (deps: PipelineDeps, payload: KubeObject) => analyseObject({ payload, ref: payload, action: 'update' }, deps);

describe('analyseObject', () => {
  it('submits once, marks the object, releases the claim and records a Normal Event', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    const payload = cluster.put(completeBuild('once-1'));
    const outcome = await analyse(deps, payload);
    assert.equal(outcome.kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    const live = cluster.get(payload);
    assert.ok(live?.annotations[ANNOTATIONS.submittedAt]);
    assert.equal(live?.annotations[ANNOTATIONS.claim], undefined);
    assert.equal(cluster.patches[0]?.withVersion, true, 'the claim is taken with optimistic concurrency');
    assert.deepEqual(recorder.events.map((event) => event.reason), ['AnalysisSubmitted']);

    // A replay of the same (stale) payload, and a fresh update: one GET, no submission.
    assert.deepEqual(await analyse(deps, payload), { kind: 'ignored', reason: 'already-submitted', object: payload });
    assert.equal(thoth.builds.length, 1);
  });

  it('a refusal records a Warning, leaves no annotation, and the update its release causes does not loop', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    thoth.refuse = () => true;
    const payload = cluster.put(completeBuild('refused-1'));
    const outcome = await analyse(deps, payload);
    assert.equal(outcome.kind, 'refused');
    assert.deepEqual(cluster.get(payload)?.annotations, {});
    assert.deepEqual(recorder.events.map((event) => `${event.type} ${event.reason}`), ['Warning AnalysisRefused']);
    const again = await analyse(deps, cluster.get(payload) ?? payload);
    assert.deepEqual(again, { kind: 'ignored', reason: 'refused-recently', object: cluster.get(payload) ?? payload });
    assert.equal(recorder.events.length, 1);
  });

  it('a transient failure answers transient, keeps our claim, and the redelivery submits once', async () => {
    const { cluster, thoth, deps } = setup();
    let failures = 1;
    thoth.fail = () => failures-- > 0;
    const payload = cluster.put(completeBuild('flaky-1'));
    await assert.rejects(analyse(deps, payload), (error: unknown) => error instanceof BuildWatcherError && error.kind === 'transient');
    assert.ok(cluster.get(payload)?.annotations[ANNOTATIONS.claim], 'the claim stays');
    const outcome = await analyse(deps, payload);
    assert.equal(outcome.kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
  });

  it('submitted but not marked: answers transient, and the redelivery only marks', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    const payload = cluster.put(completeBuild('unmarked-1'));
    const original = cluster.patchAnnotations.bind(cluster);
    let patches = 0;
    cluster.patchAnnotations = async (object, annotations, options) => {
      // The claim goes through, the mark does not.
      if (++patches === 2) throw new BuildWatcherError('transient', 'Kubernetes API unreachable');
      return original(object, annotations, options);
    };
    await assert.rejects(analyse(deps, payload), /submitted, but could not mark/);
    assert.equal(thoth.builds.length, 1);
    const outcome = await analyse(deps, payload);
    assert.equal(outcome.kind, 'submitted');
    assert.equal(thoth.builds.length, 1, 'never submitted twice');
    assert.ok(cluster.get(payload)?.annotations[ANNOTATIONS.submittedAt]);
    assert.equal(recorder.events.length, 1);
  });

  it('another replica holding the claim means "come back later", not "done"', async () => {
    const { cluster, thoth, deps } = setup();
    const future = new Date(Date.now() + 60_000).toISOString();
    // An event from before the claim: its sender must try again, in case that replica fails.
    const payload = cluster.put(completeBuild('busy-1'));
    const echo = await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: `other-pod ${future}` });
    await assert.rejects(analyse(deps, payload), /being submitted by another replica/);
    // The update event the claim itself causes: that replica's own delivery covers it.
    assert.deepEqual(await analyse(deps, echo), { kind: 'ignored', reason: 'claimed-elsewhere', object: echo });
    assert.equal(thoth.builds.length, 0);
  });

  it('one image refused for good does not hold back the others, and the object is marked', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    const image = (name: string) => ({ registry: 'quay.io', repository: `team/${name}`, digest: DIGEST });
    const payload = cluster.put(completeBuild('multi-1'));
    const twoImages: PipelineDeps = {
      ...deps,
      sources: new Map([[
        'build.openshift.io/v1/Build',
        {
          prefilter: () => undefined,
          plan: async (live) => ({
            kind: 'analyse' as const,
            images: ['private', 'public'].map((name) => ({
              source: { apiVersion: live.apiVersion, kind: live.kind, namespace: live.namespace, name: live.name, uid: live.uid },
              output: image(name),
              outcome: 'Succeeded',
              analysis: 'build' as const,
              outputCredentials: { kind: 'none' as const },
              baseCredentials: { kind: 'none' as const },
              outputVerifyTls: true,
              baseVerifyTls: true,
            })),
          }),
          markAnnotations: (_live, submitted, _now, refused = []) => ({
            [ANNOTATIONS.submittedAt]: 'now',
            [ANNOTATIONS.outputImage]: `${submitted.length} submitted, ${refused.length} refused`,
          }),
        },
      ]]),
    };
    thoth.refuse = (reference) => reference.includes('private');
    const outcome = await analyseObject({ payload, ref: payload, action: 'update' }, twoImages);
    assert.equal(outcome.kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.equal(cluster.get(payload)?.annotations[ANNOTATIONS.outputImage], '1 submitted, 1 refused');
    assert.deepEqual(recorder.events.map((event) => `${event.type} ${event.reason}`), ['Warning AnalysisRefused', 'Normal AnalysisSubmitted']);
  });

  it('an expired claim of another replica is taken over', async () => {
    const { cluster, thoth, deps } = setup();
    const past = new Date(Date.now() - 1_000).toISOString();
    const payload = cluster.put({ ...completeBuild('stale-1'), metadata: { name: 'stale-1', namespace: 'team', annotations: { [ANNOTATIONS.claim]: `dead-pod ${past}` } } });
    assert.equal((await analyse(deps, payload)).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
  });

  it('without patch rights it still submits, and warns once', async () => {
    const { cluster, thoth, log, deps } = setup();
    cluster.forbidPatch = true;
    const payload = cluster.put(completeBuild('readonly-1'));
    assert.equal((await analyse(deps, payload)).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.ok(log.lines.some((line) => line.level === 'warn' && /not allowed to patch/.test(line.message)));
  });

  it('a payload whose object was deleted and recreated is not acted on', async () => {
    const { cluster, thoth, deps } = setup();
    const old = cluster.put(completeBuild('reborn-1'));
    cluster.delete(old);
    cluster.put(completeBuild('reborn-1'));
    assert.deepEqual(await analyse(deps, old), { kind: 'ignored', reason: 'replaced', object: old });
    assert.equal(thoth.builds.length, 0);
  });
});
