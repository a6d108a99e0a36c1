import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialPolicy, freshPipeline, MemoryCluster, MemoryRecorder, MemoryThoth, memoryLogger } from '../../test/fakes/in-memory-cluster.js';
import { NO_ACCESS } from '../access/policy.js';
import { buildSource } from '../builds/source.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { BuildWatcherError } from '../errors.js';
import { KubeApiError } from '../kube/api.js';
import { metricsRegistry } from '../observability/metrics.js';
import type { KubeObject } from '../kube/object.js';
import { analyzeObject, type PipelineDeps } from './analyze.js';
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

/** A monotonic clock the test moves: a lease "passes" without waiting for it. */
function manualClock(): { readonly clock: () => number; advance(ms: number): void } {
  let now = 0;
  return { clock: () => now, advance: (ms) => (now += ms) };
}

function setup(ledger: Parameters<typeof freshPipeline>[1] = {}) {
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
    ...freshPipeline(cluster, ledger),
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

  it('reads the log while the claim is written and posts the Event while the mark is written, yet submits only once claimed', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    const withLog: PipelineDeps = { ...deps, sources: new Map([['build.openshift.io/v1/Build', buildSource({ sendBaseImage: true, sendOutputImage: true, sendBuildLog: true },
      credentialPolicy({ passToken: false, tokenFile: '', sourceRegistryVerifyTls: true }))]]) };
    const holds: (() => void)[] = [];
    const patch = cluster.patchAnnotations.bind(cluster);
    cluster.patchAnnotations = async (...args) => {
      await new Promise<void>((resolve) => holds.push(resolve));
      return patch(...args);
    };
    let logReads = 0;
    cluster.readBuildLog = async () => {
      logReads += 1;
      return 'STEP 1/1: FROM scratch\n';
    };
    const payload = cluster.put(completeBuild('overlap-1'));
    let answered = false;
    const outcome = analyze(withLog, payload).finally(() => (answered = true));
    await until(() => holds.length === 1 && logReads === 1, 'the log read while the claim is held');
    assert.equal(thoth.builds.length, 0, 'nothing is submitted before the claim is written');
    holds.shift()?.();
    await until(() => holds.length === 1 && recorder.events.length === 1, 'the Event posted while the mark is held');
    assert.equal(thoth.builds.length, 1);
    assert.equal(thoth.builds[0]?.buildLog?.log, 'STEP 1/1: FROM scratch\n');
    assert.equal(answered, false, 'the answer waits for the mark');
    holds.shift()?.();
    assert.equal((await outcome).kind, 'submitted');
    assert.ok(cluster.get(payload)?.annotations[ANNOTATIONS.submittedAt]);
    assert.equal(logReads, 1);
  });

  it('a plan read for an object that changed before its claim landed is dropped: the retry plans again, and warns once', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    const json = completeBuild('conflict-1');
    const spec = json['spec'] as Record<string, unknown>;
    json['spec'] = { ...spec, strategy: { type: 'Docker', dockerStrategy: { from: { kind: 'ImageStreamTag', name: 'missing:latest', namespace: 'team' } } } };
    const payload = cluster.put(json);
    const patch = cluster.patchAnnotations.bind(cluster);
    let first = true;
    cluster.patchAnnotations = async (...args) => {
      // Someone else's write lands between our GET and our claim: the claim's resourceVersion no longer matches.
      if (first) cluster.put({ ...json, metadata: { name: 'conflict-1', namespace: 'team', labels: { touched: 'yes' } } });
      first = false;
      return patch(...args);
    };
    assert.equal((await analyze(deps, payload)).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.equal(cluster.reads, 4, 'the Build and its ImageStream read twice: once per claim attempt');
    assert.deepEqual(recorder.events.map((event) => event.reason), ['AnalysisWarning', 'AnalysisSubmitted'], 'the dropped plan\'s warning is not told');
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

  it('a mark that fails is retried under the claim, in the same delivery: one submission, one Event', async () => {
    const { cluster, thoth, recorder, deps } = setup();
    const payload = cluster.put(completeBuild('unmarked-1'));
    failTheMark(cluster);
    assert.equal((await analyze(deps, payload)).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.ok(cluster.get(payload)?.annotations[ANNOTATIONS.submittedAt]);
    assert.equal(recorder.events.length, 1);
  });

  it('a mark the API server answers 404 or 403 (still starting after a restart) is retried, never given up: one submission', async () => {
    const { cluster, thoth, deps } = setup();
    const original = cluster.patchAnnotations.bind(cluster);
    const answers = [404, 403];
    cluster.patchAnnotations = async (object, annotations, options) => {
      const status = ANNOTATIONS.submittedAt in annotations ? answers.shift() : undefined;
      if (status !== undefined) throw new KubeApiError(status, 'PATCH', status === 404 ? 'NotFound' : 'Forbidden');
      return original(object, annotations, options);
    };
    const payload = cluster.put(completeBuild('restarting-api-1'));
    assert.equal((await analyze(deps, payload)).kind, 'submitted');
    assert.equal((await analyze(deps, cluster.get(payload) ?? payload)).kind, 'ignored');
    assert.equal(thoth.builds.length, 1);
  });

  it('a delivery that ends while its mark is pending answers transient; the redelivery joins and answers with the outcome, once', async () => {
    const { cluster, thoth, deps } = setup();
    const payload = cluster.put(completeBuild('pending-1'));
    const original = cluster.patchAnnotations.bind(cluster);
    let markable = false;
    let markAttempts = 0;
    cluster.patchAnnotations = async (object, annotations, options) => {
      if (ANNOTATIONS.submittedAt in annotations && !markable) {
        markAttempts += 1;
        throw new BuildWatcherError('transient', 'Kubernetes API unreachable');
      }
      return original(object, annotations, options);
    };
    const ended = new AbortController();
    const first = analyzeObject({ payload, ref: payload, action: 'update' }, deps, { signal: ended.signal });
    await until(() => markAttempts >= 1, 'the first mark attempt');
    ended.abort();
    await assert.rejects(first, (error: unknown) => error instanceof BuildWatcherError && error.kind === 'transient');
    const redelivery = analyze(deps, payload);
    const third = analyze(deps, payload);
    markable = true;
    assert.equal((await redelivery).kind, 'submitted', 'the redelivery answers with the outcome');
    assert.deepEqual(await third, { kind: 'ignored', reason: 'in-progress', object: payload }, 'and only one does');
    assert.equal(thoth.builds.length, 1, 'never submitted twice');
  });

  it('another live process holding the claim means "busy, come back later", never "done"', async () => {
    const { cluster, thoth, deps } = setup();
    // An event from before the claim: its sender must try again, in case that process dies.
    const payload = cluster.put(completeBuild('busy-1'));
    const echo = await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: 'other-pod 1 60s' });
    const outcome = await analyze(deps, payload);
    assert.equal(outcome.kind, 'busy');
    // The update event the claim itself causes: the lease on the object is its record.
    assert.deepEqual(await analyze(deps, echo), { kind: 'ignored', reason: 'claimed-elsewhere', object: echo });
    assert.equal(thoth.builds.length, 0);
  });

  it('a delivery that joins work which found the object busy is told busy too, not "in progress"', async () => {
    const { cluster, deps } = setup();
    const payload = cluster.put(completeBuild('busy-join-1'));
    await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: 'other-pod 1 60s' });
    const [first, joined] = await Promise.all([analyze(deps, payload), analyzeObject({ ref: payload, action: 'update' }, deps)]);
    assert.equal(first.kind, 'busy');
    assert.equal(joined.kind, 'busy');
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

  it('another holder\'s claim is taken over once this process has seen it unchanged for a whole lease, whatever its wall clock says', async () => {
    const time = manualClock();
    // This process's wall clock is two minutes ahead: it is never compared with anything written.
    const { cluster, thoth, deps } = setup({ clock: time.clock, now: () => new Date(Date.now() + 120_000) });
    // An event from before the claim (one that shows the claim is its echo, ignored).
    const payload = cluster.put(completeBuild('stale-1'));
    await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: 'dead-pod 1 60s' });
    const before = await resubmissionCount();
    assert.equal((await analyze(deps, payload)).kind, 'busy', 'first seen now: busy for the lease it declares');
    time.advance(59_999);
    assert.equal((await analyze(deps, payload)).kind, 'busy');
    time.advance(1);
    assert.equal((await analyze(deps, payload)).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.equal(await resubmissionCount(), before + 1, 'counted: the dead holder may have submitted before it could mark');
  });

  it('a late event showing an older claim value does not restart the count of the current one', async () => {
    const time = manualClock();
    const { cluster, thoth, deps } = setup({ clock: time.clock });
    const payload = cluster.put(completeBuild('late-echo-1'));
    const firstEcho = await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: 'dead-pod 1 60s' });
    await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: 'dead-pod 2 60s' });
    assert.equal((await analyze(deps, payload)).kind, 'busy', 'seen live: the count starts');
    time.advance(30_000);
    // The adapter delivers the update the first claim caused, queued while the holder lived.
    assert.deepEqual(await analyze(deps, firstEcho), { kind: 'ignored', reason: 'claimed-elsewhere', object: firstEcho });
    time.advance(30_000);
    assert.equal((await analyze(deps, payload)).kind, 'submitted', 'one lease after the live sighting');
    assert.equal(thoth.builds.length, 1);
  });

  it('an event showing a dead holder\'s claim, delivered again and again (the command line\'s retries), leads to a takeover one lease later', async () => {
    const time = manualClock();
    const { cluster, thoth, deps } = setup({ clock: time.clock });
    const payload = cluster.put(completeBuild('echo-retried-1'));
    const echo = await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: 'dead-pod 5 60s' });
    assert.deepEqual(await analyze(deps, echo), { kind: 'ignored', reason: 'claimed-elsewhere', object: echo });
    time.advance(59_999);
    assert.deepEqual(await analyze(deps, echo), { kind: 'ignored', reason: 'claimed-elsewhere', object: echo });
    time.advance(1);
    // The count the event started goes on when the live object shows the same value.
    assert.equal((await analyze(deps, echo)).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
  });

  it('a claim of its own left too long ago is taken again with a write, not resumed past its lease', async () => {
    const time = manualClock();
    const { cluster, thoth, deps } = setup({ clock: time.clock });
    let failures = 1;
    thoth.fail = () => failures-- > 0;
    const payload = cluster.put(completeBuild('stale-own-1'));
    await assert.rejects(analyze(deps, payload), (error: unknown) => error instanceof BuildWatcherError && error.kind === 'transient');
    const left = cluster.get(payload)?.annotations[ANNOTATIONS.claim];
    time.advance(60_000);
    assert.equal((await analyze(deps, payload)).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.equal(cluster.patches.filter(({ annotations }) => annotations[ANNOTATIONS.claim] !== undefined && annotations[ANNOTATIONS.claim] !== null && annotations[ANNOTATIONS.claim] !== left).length, 1, 'one new claim');
  });

  it('a renewal seen restarts the observer\'s count: a live holder is never taken over', async () => {
    const time = manualClock();
    const { cluster, thoth, deps } = setup({ clock: time.clock });
    const payload = cluster.put(completeBuild('renewed-1'));
    await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: 'live-pod 1 60s' });
    assert.equal((await analyze(deps, payload)).kind, 'busy');
    time.advance(40_000);
    await cluster.patchAnnotations(payload, { [ANNOTATIONS.claim]: 'live-pod 2 60s' });
    time.advance(40_000);
    assert.equal((await analyze(deps, payload)).kind, 'busy', '80 s after the first sighting, 40 s after the renewal');
    assert.equal(thoth.builds.length, 0);
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
    const twoWorkers: PipelineDeps = { ...deps, ...freshPipeline(cluster, {}, 2), submitter: stalled.submitter };
    const first = cluster.put(completeBuild('slot-a'));
    const work = analyze(twoWorkers, first);
    await until(() => stalled.started() === 1, 'the first submission');
    // The claim patch's own update event, delivered while the work runs.
    const echo = cluster.get(first);
    assert.ok(echo !== undefined && echo.annotations[ANNOTATIONS.claim]?.startsWith(twoWorkers.ledger.identity.holder));
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
      assert.ok(claimEcho.annotations[ANNOTATIONS.claim]?.startsWith(deps.ledger.identity.holder), 'the first patch is the claim');
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
      assert.ok(secondClaimEcho.annotations[ANNOTATIONS.claim]?.startsWith(deps.ledger.identity.holder));
      assert.notEqual(secondClaimEcho.annotations[ANNOTATIONS.claim], firstClaimEcho.annotations[ANNOTATIONS.claim]);
      const reads = cluster.reads;
      assert.equal((await analyze(deps, secondClaimEcho)).kind, 'submitted');
      assert.ok(cluster.reads > reads, 'read, not skipped');
      assert.equal(thoth.builds.length, 2, 'analysed again once, as the user asked');
    });
  });

  it('renews its lease while the work runs, so a slow submission is never taken over', async () => {
    const timing = { leaseMs: 400, renewMs: 100 };
    const { cluster, thoth, deps } = setup({ timing });
    const stalled = stalledThoth(thoth);
    const holder: PipelineDeps = { ...deps, submitter: stalled.submitter };
    const other: PipelineDeps = { ...deps, ...freshPipeline(cluster, { timing }) };
    const payload = cluster.put(completeBuild('long-1'));
    const work = analyze(holder, payload);
    await until(() => stalled.started() === 1, 'the submission to start');
    const claims = new Set<string>();
    // Three renewals, each a new value: an observer's count starts again at every one.
    await until(() => claims.add(cluster.get(payload)?.annotations[ANNOTATIONS.claim] ?? '').size >= 4, 'three renewals');
    const renewalEcho = cluster.get(payload);
    assert.ok(renewalEcho);
    assert.equal((await analyze(other, payload)).kind, 'busy');
    stalled.release();
    assert.equal((await work).kind, 'submitted');
    assert.equal(cluster.get(payload)?.annotations[ANNOTATIONS.claim], undefined, 'the mark removes the claim');
    // A renewal's update event, delivered after the mark, is as old as the claim's own.
    assert.deepEqual(await analyze(holder, renewalEcho), { kind: 'ignored', reason: 'marked-since', object: renewalEcho });
    assert.equal(thoth.builds.length, 1);
  });

  it('a submission in flight when the lease lapses is not cut off: Thoth\'s answer decides, and the object is marked once', async () => {
    const { cluster, thoth, deps } = setup({ timing: { leaseMs: 300, renewMs: 100 } });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    const submitter = Object.assign(Object.create(thoth) as MemoryThoth, {
      async submitBuildAnalysis(request: Parameters<MemoryThoth['submitBuildAnalysis']>[0], signal?: AbortSignal) {
        started += 1;
        // As the real client does: an abort ends the request, whatever Thoth did with it.
        await Promise.race([released, new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new BuildWatcherError('transient', 'aborted'))))]);
        return thoth.submitBuildAnalysis(request);
      },
    });
    const original = cluster.patchAnnotations.bind(cluster);
    let failedRenewals = 0;
    let apiDown = true;
    cluster.patchAnnotations = async (object, annotations, options) => {
      if (apiDown && options?.expect !== undefined && typeof annotations[ANNOTATIONS.claim] === 'string') {
        failedRenewals += 1;
        throw new BuildWatcherError('transient', 'Kubernetes API unreachable');
      }
      return original(object, annotations, options);
    };
    const payload = cluster.put(completeBuild('lapse-1'));
    const work = analyze({ ...deps, submitter }, payload);
    await until(() => started === 1 && failedRenewals >= 3, 'the lease to lapse while Thoth holds the submission');
    apiDown = false;
    release();
    assert.equal((await work).kind, 'submitted');
    assert.equal(thoth.builds.length, 1);
    assert.ok(cluster.get(payload)?.annotations[ANNOTATIONS.submittedAt]);
  });

  it('a retry of its own claim, still fresh, writes nothing: a failing object does not feed itself update events', async () => {
    const { cluster, thoth, deps } = setup();
    let failures = 3;
    thoth.fail = () => failures-- > 0;
    const payload = cluster.put(completeBuild('self-feed-1'));
    for (let attempt = 0; attempt < 3; attempt++) {
      await assert.rejects(analyze(deps, cluster.get(payload) ?? payload), (error: unknown) => error instanceof BuildWatcherError && error.kind === 'transient');
    }
    assert.equal(cluster.patches.length, 1, 'one claim for three attempts');
    assert.equal((await analyze(deps, cluster.get(payload) ?? payload)).kind, 'submitted');
    assert.equal(cluster.patches.length, 2, 'then the mark');
    assert.equal(thoth.builds.length, 1);
  });
});
