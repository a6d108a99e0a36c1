import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialPolicy, freshPipeline, MemoryCluster, MemoryRecorder, MemoryThoth, memoryLogger } from '../../test/fakes/in-memory-cluster.js';
import { buildSource } from '../builds/source.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { BuildWatcherError } from '../errors.js';
import { metricsRegistry } from '../observability/metrics.js';
import { imageStreamSource } from '../sources/imagestream-source.js';
import { parseSubmittedImages } from '../sources/submitted-images.js';
import type { KubeObject } from '../kube/object.js';
import { analyzeObject, type PipelineDeps } from './analyze.js';
import { NO_ACCESS } from './credentials.js';
import type { SourceObject } from './source-kind.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;

async function resubmissionCount(): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('build_watcher_resubmissions_total')?.get();
  return (metric?.values ?? []).reduce((sum, value) => sum + value.value, 0);
}

/** A Submitter that holds every submission until `release()`, counting them. */
function stalledThoth(thoth: MemoryThoth) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let started = 0;
  const submitter = Object.assign(Object.create(thoth) as MemoryThoth, {
    async submitBuildAnalysis(...args: Parameters<MemoryThoth['submitBuildAnalysis']>) {
      started += 1;
      await released;
      return thoth.submitBuildAnalysis(...args);
    },
  });
  return { submitter, release, started: () => started };
}

async function until(condition: () => boolean, what: string, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function completeBuild(name: string): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace: 'team' },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: 'quay.io/team/app:1' } } },
    status: { phase: 'Complete', outputDockerImageReference: 'quay.io/team/app:1', output: { to: { imageDigest: DIGEST } } },
  };
}

/** The API server takes the claim patch, then is unreachable for the mark (the second patch). */
function failTheMark(cluster: MemoryCluster): void {
  const original = cluster.patchAnnotations.bind(cluster);
  let patches = 0;
  cluster.patchAnnotations = async (object, annotations, options) => {
    if (++patches === 2) throw new BuildWatcherError('transient', 'Kubernetes API unreachable');
    return original(object, annotations, options);
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
      ['build.openshift.io/v1/Build', buildSource({ sendBaseImage: true, sendOutputImage: true, sendBuildLog: false }, credentialPolicy({ passToken: false, tokenFile: '', sourceRegistryVerifyTls: true }))],
    ]),
    analysisOptions: {},
    trustEventPayload: false,
    ...freshPipeline(),
    log,
  };
  return { cluster, thoth, recorder, log, deps };
}

const analyze = (deps: PipelineDeps, payload: KubeObject) => analyzeObject({ payload, ref: payload, action: 'update' }, deps);

describe('analyzeObject', () => {
  it('submits once, marks the object, releases the claim and records a Normal Event', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    const payload = cluster.put(completeBuild('once-1'));
    const outcome = await analyze(deps, payload);
    assert.equal(outcome.kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    const live = cluster.get(payload);
    assert.ok(live?.annotations[ANNOTATIONS.submittedAt]);
    assert.equal(live?.annotations[ANNOTATIONS.claim], undefined);
    assert.equal(cluster.patches[0]?.withVersion, true, 'the claim is taken with optimistic concurrency');
    assert.deepEqual(recorder.events.map((event) => event.reason), ['AnalysisSubmitted']);

    // A replay of the same (stale) payload, and a fresh update: one GET, no submission.
    assert.deepEqual(await analyze(deps, payload), { kind: 'ignored', reason: 'already-submitted', object: payload });
    assert.equal(thoth.builds.length, 1);
  });

  it('a refusal records a Warning, leaves no annotation, and the update its release causes does not loop', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    thoth.refuse = () => true;
    const payload = cluster.put(completeBuild('refused-1'));
    const outcome = await analyze(deps, payload);
    assert.equal(outcome.kind, 'refused');
    assert.deepEqual(cluster.get(payload)?.annotations, {});
    assert.deepEqual(recorder.events.map((event) => `${event.type} ${event.reason}`), ['Warning AnalysisRefused']);
    const again = await analyze(deps, cluster.get(payload) ?? payload);
    assert.deepEqual(again, { kind: 'ignored', reason: 'refused-recently', object: cluster.get(payload) ?? payload });
    assert.equal(recorder.events.length, 1);
  });

  it('a transient failure answers transient, keeps our claim, and the redelivery submits once', async () => {
    const { cluster, thoth, deps } = setup();
    let failures = 1;
    thoth.fail = () => failures-- > 0;
    const payload = cluster.put(completeBuild('flaky-1'));
    await assert.rejects(analyze(deps, payload), (error: unknown) => error instanceof BuildWatcherError && error.kind === 'transient');
    assert.ok(cluster.get(payload)?.annotations[ANNOTATIONS.claim], 'the claim stays');
    const outcome = await analyze(deps, payload);
    assert.equal(outcome.kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
  });

  it('submitted but not marked: answers transient, and the redelivery only marks', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    const payload = cluster.put(completeBuild('unmarked-1'));
    failTheMark(cluster);
    await assert.rejects(analyze(deps, payload), /submitted, but could not mark/);
    assert.equal(thoth.builds.length, 1);
    const outcome = await analyze(deps, payload);
    assert.equal(outcome.kind, 'submitted');
    assert.equal(thoth.builds.length, 1, 'never submitted twice');
    assert.ok(cluster.get(payload)?.annotations[ANNOTATIONS.submittedAt]);
    assert.equal(recorder.events.length, 1);
  });

  it('another live process holding the claim means "busy, come back later", never "done"', async () => {
    const { cluster, thoth, deps } = setup();
    const future = new Date(Date.now() + 60_000);
    // An event from before the claim: its sender must try again, in case that process dies.
    const payload = cluster.put(completeBuild('busy-1'));
    const echo = await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: `other-pod ${future.toISOString()}` });
    assert.deepEqual(await analyze(deps, payload), { kind: 'busy', object: payload, until: future });
    // The update event the claim itself causes: the lease on the object is its record.
    assert.deepEqual(await analyze(deps, echo), { kind: 'ignored', reason: 'claimed-elsewhere', object: echo });
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
          read: (object: KubeObject): SourceObject => ({
            object,
            recordsRefusals: false,
            skipReason: () => undefined,
            plan: async () => ({
              kind: 'analyze' as const,
              images: ['private', 'public'].map((name) => ({
                source: { apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name, uid: object.uid },
                output: image(name),
                outcome: 'Succeeded',
                analysis: 'build' as const,
                outputAccess: NO_ACCESS,
                baseAccess: NO_ACCESS,
              })),
            }),
            marks: (submitted, _now, refused) => ({
              [ANNOTATIONS.submittedAt]: 'now',
              [ANNOTATIONS.outputImage]: `${submitted.length} submitted, ${refused.length} refused`,
            }),
          }),
        },
      ]]),
    };
    thoth.refuse = (reference) => reference.includes('private');
    const outcome = await analyzeObject({ payload, ref: payload, action: 'update' }, twoImages);
    assert.equal(outcome.kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.equal(cluster.get(payload)?.annotations[ANNOTATIONS.outputImage], '1 submitted, 1 refused');
    assert.deepEqual(recorder.events.map((event) => `${event.type} ${event.reason}`), ['Warning AnalysisRefused', 'Normal AnalysisSubmitted']);
  });

  it('an expired claim of another replica is taken over', async () => {
    const { cluster, thoth, deps } = setup();
    const past = new Date(Date.now() - 1_000).toISOString();
    const payload = cluster.put({ ...completeBuild('stale-1'), metadata: { name: 'stale-1', namespace: 'team', annotations: { [ANNOTATIONS.claim]: `dead-pod ${past}` } } });
    const before = await resubmissionCount();
    assert.equal((await analyze(deps, payload)).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.equal(await resubmissionCount(), before + 1, 'counted: the dead holder may have submitted before it could mark');
  });

  it('without patch rights it still submits, and warns once', async () => {
    const { cluster, thoth, log, deps } = setup();
    cluster.forbidPatch = true;
    const payload = cluster.put(completeBuild('readonly-1'));
    assert.equal((await analyze(deps, payload)).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.ok(log.lines.some((line) => line.level === 'warn' && /not allowed to patch/.test(line.message)));
  });

  it('a payload whose object was deleted and recreated is not acted on', async () => {
    const { cluster, thoth, deps } = setup();
    const old = cluster.put(completeBuild('reborn-1'));
    cluster.delete(old);
    cluster.put(completeBuild('reborn-1'));
    assert.deepEqual(await analyze(deps, old), { kind: 'ignored', reason: 'replaced', object: old });
    assert.equal(thoth.builds.length, 0);
  });

  it('an echo of our own claim waits for the work without taking a worker slot (B4)', async () => {
    const { cluster, thoth, deps } = setup();
    const stalled = stalledThoth(thoth);
    const twoWorkers: PipelineDeps = { ...deps, ...freshPipeline(2), submitter: stalled.submitter };
    const first = cluster.put(completeBuild('slot-a'));
    const work = analyze(twoWorkers, first);
    await until(() => stalled.started() === 1, 'the first submission');
    // The claim patch's own update event, delivered while the work runs.
    const echo = cluster.get(first);
    assert.ok(echo !== undefined && echo.annotations[ANNOTATIONS.claim]?.startsWith(twoWorkers.state.holder));
    const echoed = analyze(twoWorkers, echo);
    // A second object still gets the second worker: the echo holds none.
    const second = analyze(twoWorkers, cluster.put(completeBuild('slot-b')));
    await until(() => stalled.started() === 2, 'the second object to start while the first is stalled');
    stalled.release();
    assert.equal((await work).kind, 'submitted');
    assert.equal((await second).kind, 'submitted');
    assert.deepEqual(await echoed, { kind: 'ignored', reason: 'in-progress', object: echo });
    assert.equal(thoth.builds.length, 2);
  });

  describe('the update events its own patches cause (Kubernetes API calls per Build)', () => {
    /** Records the object each patch left, in order: the payloads of the update events they cause. */
    function patchedStates(cluster: MemoryCluster): KubeObject[] {
      const states: KubeObject[] = [];
      const original = cluster.patchAnnotations.bind(cluster);
      cluster.patchAnnotations = async (object, annotations, options) => {
        const patched = await original(object, annotations, options);
        states.push(patched);
        return patched;
      };
      return states;
    }

    it('once marked, the echoes of its claim and of its mark are ignored without a GET; a reference is still read', async () => {
      const { cluster, thoth, deps } = setup();
      const states = patchedStates(cluster);
      const payload = cluster.put(completeBuild('echo-1'));
      assert.equal((await analyze(deps, payload)).kind, 'submitted');
      const [claimEcho, markEcho] = states;
      assert.ok(claimEcho !== undefined && markEcho !== undefined);
      assert.ok(claimEcho.annotations[ANNOTATIONS.claim]?.startsWith(deps.state.holder), 'the first patch is the claim');
      assert.ok(markEcho.annotations[ANNOTATIONS.submittedAt], 'the second is the mark');
      const reads = cluster.reads;
      assert.deepEqual(await analyze(deps, claimEcho), { kind: 'ignored', reason: 'marked-since', object: claimEcho });
      assert.deepEqual(await analyze(deps, markEcho), { kind: 'ignored', reason: 'already-submitted', object: markEcho });
      assert.equal(cluster.reads, reads, 'no GET for either echo');
      // A Reference-mode event carries no object, so no claim to recognise: it is read.
      assert.equal((await analyzeObject({ ref: payload, action: 'update' }, deps)).kind, 'ignored');
      assert.equal(cluster.reads, reads + 1);
      assert.equal(thoth.builds.length, 1);
    });

    it('a user who removes the mark gets a new analysis; a later lease that failed leaves its echo to be read and retried', async () => {
      const { cluster, thoth, deps } = setup();
      const states = patchedStates(cluster);
      const payload = cluster.put(completeBuild('again-1'));
      assert.equal((await analyze(deps, payload)).kind, 'submitted');
      const firstClaimEcho = states[0];
      assert.ok(firstClaimEcho);
      // The user's removal is an update of its own, newer than both echoes.
      const marked = cluster.get(payload);
      assert.ok(marked);
      const unmarked = await cluster.patchAnnotations(marked, { [ANNOTATIONS.submittedAt]: null, [ANNOTATIONS.analysisIds]: null, [ANNOTATIONS.outputImage]: null });
      let failures = 1;
      thoth.fail = () => failures-- > 0;
      await assert.rejects(analyze(deps, unmarked), (error: unknown) => error instanceof BuildWatcherError && error.kind === 'transient');
      // This lease did not end in a mark: the echo of its claim is a redelivery like any other.
      const secondClaimEcho = cluster.get(payload);
      assert.ok(secondClaimEcho !== undefined);
      assert.ok(secondClaimEcho.annotations[ANNOTATIONS.claim]?.startsWith(deps.state.holder));
      assert.notEqual(secondClaimEcho.annotations[ANNOTATIONS.claim], firstClaimEcho.annotations[ANNOTATIONS.claim]);
      const reads = cluster.reads;
      assert.equal((await analyze(deps, secondClaimEcho)).kind, 'submitted');
      assert.ok(cluster.reads > reads, 'read, not skipped');
      assert.equal(thoth.builds.length, 2, 'analysed again once, as the user asked');
    });

    it('submitted but not marked: the echo of its claim is read and only marks', async () => {
      const { cluster, thoth, deps } = setup();
      const states = patchedStates(cluster);
      const payload = cluster.put(completeBuild('echo-unmarked-1'));
      failTheMark(cluster);
      await assert.rejects(analyze(deps, payload), /submitted, but could not mark/);
      const claimEcho = states[0];
      assert.ok(claimEcho);
      assert.equal((await analyze(deps, claimEcho)).kind, 'submitted');
      assert.ok(cluster.get(payload)?.annotations[ANNOTATIONS.submittedAt], 'marked');
      assert.equal(thoth.builds.length, 1, 'never submitted twice');
    });
  });

  it('a pending mark is written from the object as it is now, keeping what another process recorded (B5)', async () => {
    const cluster = new MemoryCluster();
    const thoth = new MemoryThoth();
    const reg = 'image-registry.openshift-image-registry.svc:5000';
    const digest = (n: number) => `sha256:${String(n).repeat(64)}`;
    const item = (n: number) => ({ created: `2026-11-0${n}T00:00:00Z`, dockerImageReference: `${reg}/team/app@${digest(n)}`, image: digest(n), generation: n });
    const stream = (tags: { tag: string; n: number }[], annotations: Record<string, string> = {}) => ({
      apiVersion: 'image.openshift.io/v1',
      kind: 'ImageStream',
      metadata: { name: 'app', namespace: 'team', annotations },
      status: { dockerImageRepository: `${reg}/team/app`, tags: tags.map(({ tag, n }) => ({ tag, items: [item(n)] })) },
    });
    const deps: PipelineDeps = {
      store: cluster,
      recorder: new MemoryRecorder(),
      submitter: thoth,
      sources: new Map([['image.openshift.io/v1/ImageStream', imageStreamSource({ credentials: credentialPolicy({ passToken: false, tokenFile: '', sourceRegistryVerifyTls: true }) })]]),
      analysisOptions: {},
      trustEventPayload: false,
      ...freshPipeline(),
      log: memoryLogger(),
    };
    const payload = cluster.put(stream([{ tag: 'v1', n: 1 }]));
    const original = cluster.patchAnnotations.bind(cluster);
    let failMark = true;
    cluster.patchAnnotations = async (object, annotations, options) => {
      if (failMark && ANNOTATIONS.submittedImages in annotations) throw new BuildWatcherError('transient', 'Kubernetes API unreachable');
      return original(object, annotations, options);
    };
    await assert.rejects(analyzeObject({ payload, ref: payload, action: 'update' }, deps), /could not mark/);
    // Meanwhile another replica recorded a tag of its own on the stream, and its claim expired.
    const other = cluster.get(payload);
    assert.ok(other);
    cluster.put(stream([{ tag: 'v1', n: 1 }, { tag: 'v2', n: 2 }], { [ANNOTATIONS.submittedImages]: JSON.stringify({ v2: [digest(2)] }) }));
    failMark = false;
    const replay = await analyzeObject({ ref: payload, action: 'update' }, deps);
    assert.equal(replay.kind, 'submitted');
    assert.equal(thoth.images.length, 1, 'only marked, never submitted again');
    const recorded = cluster.get(payload)?.annotations[ANNOTATIONS.submittedImages] ?? '';
    assert.equal(parseSubmittedImages(recorded).problem, undefined);
    assert.ok(recorded.includes(digest(1)), `ours is recorded: ${recorded}`);
    assert.ok(recorded.includes(digest(2)), `the other replica's record is kept: ${recorded}`);
  });

  it('renews its lease while the work runs, so a slow submission is never taken over; a dead holder\'s lease expires', async () => {
    const { cluster, thoth, deps } = setup();
    const stalled = stalledThoth(thoth);
    const lease = { leaseMs: 400, renewMs: 100 };
    const holder: PipelineDeps = { ...deps, submitter: stalled.submitter, lease };
    const other: PipelineDeps = { ...deps, ...freshPipeline(), lease };
    const payload = cluster.put(completeBuild('long-1'));
    const work = analyze(holder, payload);
    await until(() => stalled.started() === 1, 'the submission to start');
    const firstClaim = cluster.get(payload)?.annotations[ANNOTATIONS.claim];
    // Well past one lease: still renewed, so another process finds it busy every time.
    await until(() => cluster.get(payload)?.annotations[ANNOTATIONS.claim] !== firstClaim, 'a renewal');
    const expiryOf = () => Date.parse(cluster.get(payload)?.annotations[ANNOTATIONS.claim]?.split(' ')[1] ?? '');
    const renewed = expiryOf();
    await until(() => expiryOf() > renewed, 'a second renewal');
    const renewalEcho = cluster.get(payload);
    assert.ok(renewalEcho);
    assert.equal((await analyze(other, payload)).kind, 'busy');
    stalled.release();
    assert.equal((await work).kind, 'submitted');
    assert.equal(cluster.get(payload)?.annotations[ANNOTATIONS.claim], undefined, 'the mark removes the claim');
    // A renewal's update event, delivered after the mark, is as old as the claim's own.
    assert.deepEqual(await analyze(holder, renewalEcho), { kind: 'ignored', reason: 'marked-since', object: renewalEcho });

    // A holder that stops renewing (as a killed process does) is taken over once its lease ends.
    const orphan = cluster.put(completeBuild('orphan-1'));
    await cluster.patchAnnotations(orphan, { [ANNOTATIONS.claim]: `killed-pod ${new Date(Date.now() + 300).toISOString()}` });
    assert.equal((await analyze(other, orphan)).kind, 'busy');
    await until(() => Date.parse(cluster.get(orphan)?.annotations[ANNOTATIONS.claim]?.split(' ')[1] ?? '') < Date.now(), 'the orphaned lease to expire');
    assert.equal((await analyze(other, orphan)).kind, 'submitted');
    assert.equal(thoth.builds.length, 2);
  });
});
