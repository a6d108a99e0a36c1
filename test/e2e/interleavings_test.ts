/**
 * The interleavings a fault run found to submit a Build twice, each forced on the real API server
 * (through the API front) with the function run as faas-js-runtime runs it, two replicas at
 * most, and a claim leased for 3 s (BUILD_WATCHER_CLAIM_LEASE_SECONDS). Events are posted
 * straight to each replica's address, as the ApiServerSource adapter posts them, so the test
 * chooses which replica gets which delivery; every delivery is the Build's Complete update, with
 * one CloudEvent id (a redelivery of one event).
 *
 * Each interleaving is forced, never waited for: a replica is held on its build-log GET (read
 * beside its claim, held once the claim is on the Build), paused (SIGSTOP), cut from the API server (a TCP relay of its own), its mark
 * dropped (the API front), Thoth's answer held (an HTTP relay), its clock skewed (libfaketime).
 * Outcomes are counted (submissions of the Build at the Thoth stand-in, its marks, the replies,
 * writes of the Build), never timed; the only clocks read bound how long a condition lasted.
 *
 * The claim annotation is opaque here, except that its first field names the holder and, in
 * the ledger's `<holder> <seq> <lease>s`, its second counts the holder's writes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import type { Hold } from '../harness/api-front.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { waitFor } from '../harness/wait.js';
import { metricTotal, postBinaryEvent, startFunction } from '../function/run-function.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { annotationsOf, buildObject, finishBuild, FUNCTION_RULES, functionEnv, kill9, prepareNamespace, readObject, submissionsPerBuild } from './cluster.js';
import { startHttpRelay, type HttpRelay } from './http-relay.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const LEASE_SECONDS = '3';
const LEASE_MS = Number(LEASE_SECONDS) * 1000;
/** How often a live holder renews, as functions/wiring.ts sets it: a third of the lease. */
const RENEW_MS = LEASE_MS / 3;
/** Attempts of the Thoth client per submission (functions/thoth/client.ts DEFAULT_RETRY_POLICY). */
const THOTH_CLIENT_ATTEMPTS = 4;
const UPDATE = 'dev.knative.apiserver.resource.update';
const SUBMITTED = 'dev.build-watcher.analysis.submitted';
const BUSY = 503;
/** libfaketime, from Debian's faketime package (test/prepare.sh). */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

type RunningFunction = Awaited<ReturnType<typeof startFunction>>;

interface Replica {
  readonly fn: RunningFunction;
  /** The replica's own way to the API server: cut it to cut the replica off. */
  readonly proxy: TcpProxy;
  /** Its service account token, whose calls the API front records. */
  readonly token: string;
}

/** One finished Build and its Complete update event, delivered (and redelivered) as one id. */
interface Scene {
  readonly ns: string;
  readonly name: string;
  readonly build: ReturnType<typeof buildObject>;
  readonly object: Record<string, unknown>;
  readonly eventId: string;
}

interface Delivery {
  readonly status: number;
  /** The reply CloudEvent's type, if the function replied with one. */
  readonly reply: string | null;
  readonly body: string;
}

const describeDelivery = (d: Delivery) => `${d.status}${d.reply !== null ? ` ${d.reply}` : ''} ${d.body.trim()}`.trim();
const isSuccess = (d: Delivery) => d.status >= 200 && d.status < 300;
/** The answers that were not "busy", described. */
const notBusy = (answers: readonly Delivery[]) => answers.filter((d) => d.status !== BUSY).map(describeDelivery);

/** `promise`, or a rejection naming `what` once `timeoutMs` have passed. */
async function within<T>(promise: Promise<T>, what: string, timeoutMs = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The environment that runs a replica with its wall clock `offset` (e.g. `+20s`) from the machine's. */
function skewedClock(offset: string): Record<string, string> {
  // Only the wall clock, as NTP skew between machines is: CLOCK_MONOTONIC keeps the machine's.
  return { LD_PRELOAD: LIBFAKETIME, FAKETIME: offset, FAKETIME_DONT_FAKE_MONOTONIC: '1' };
}

describe('interleavings: a paused, skewed, cut or failing holder never makes a Build submitted twice', { timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  /** In front of Thoth: holds an accepted answer until the test releases it. */
  let thothFront: HttpRelay;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    [cp, registry] = await Promise.all([startControlPlane(), startRegistry()]);
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
    thothFront = await startHttpRelay([thoth.url]);
  });

  afterEach(async () => {
    thoth.clearFailures();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  after(async () => {
    await thothFront?.close();
    await thoth?.close();
    await registry?.stop();
    await cp?.stop();
  });

  async function scene(ns: string, name = 'b-1'): Promise<Scene> {
    await prepareNamespace(cp, ns, { watcher: FUNCTION_RULES });
    const image = await pushTestImage(registry, { repository: `${ns}/app`, tag: 'latest', layerSizes: [256] });
    const reference = `${registry.host}/${ns}/app:latest`;
    const object = await finishBuild(cp, ns, name, reference, image.digest);
    return { ns, name, build: buildObject(ns, name, reference), object, eventId: randomUUID() };
  }

  /** A replica of the function (HOSTNAME `name`), reaching the API server through a relay of its own. */
  async function replica(s: Scene, name: string, env: Readonly<Record<string, string>> = {}): Promise<Replica> {
    const proxy = await startTcpProxy(cp.server);
    cleanups.push(() => proxy.close());
    const { kubeconfig, token } = await cp.serviceAccountCredentials(s.ns, 'watcher', proxy.url);
    const fn = await startFunction({ env: { ...functionEnv(kubeconfig, thothFront.url, s.ns, LEASE_SECONDS), HOSTNAME: name, ...env } });
    cleanups.push(async () => {
      fn.process.kill('SIGCONT');
      await fn.stop();
    });
    return { fn, proxy, token };
  }

  async function deliver(to: Replica, s: Scene): Promise<Delivery> {
    const response = await postBinaryEvent(to.fn.url, { type: UPDATE, object: s.object, extensions: { id: s.eventId } });
    return { status: response.status, reply: response.headers.get('ce-type'), body: await response.text() };
  }

  /** Delivers the event to `to` again and again, as a redelivering sender would, until it answers 2xx. */
  async function deliverUntilAccepted(to: Replica, s: Scene, what: string, timeoutMs = 60_000): Promise<Delivery> {
    const answers: string[] = [];
    return waitFor(
      async () => {
        const delivery = await deliver(to, s);
        answers.push(String(delivery.status));
        return isSuccess(delivery) ? delivery : undefined;
      },
      { what, timeoutMs, intervalMs: 250, onTimeout: () => `answers: ${answers.join(' ')}\n${tail(to)}` },
    );
  }

  /** Delivers the event to `to` every 250 ms for `leases` leases; every answer, in order. */
  async function deliverFor(to: Replica, s: Scene, leases: number): Promise<Delivery[]> {
    const answers: Delivery[] = [];
    const start = performance.now();
    await waitFor(
      async () => {
        answers.push(await deliver(to, s));
        return performance.now() - start >= leases * LEASE_MS ? true : undefined;
      },
      { what: `${leases} leases of deliveries`, timeoutMs: leases * LEASE_MS + 60_000, intervalMs: 250 },
    );
    return answers;
  }

  const annotations = async (s: Scene) => annotationsOf(await readObject(cp, s.build));
  const holderOf = (claim: string | undefined) => claim?.split(' ')[0];
  const submissions = (s: Scene) => submissionsPerBuild(thoth, s.ns).get(s.name) ?? 0;
  const metric = (r: Replica, name: string) => metricTotal(r.fn.url, new RegExp(`^${name}(\\{| )`));
  const tail = (r: Replica) => r.fn.lines.slice(-30).join('\n');
  const marked = (s: Scene, onTimeout?: () => string) =>
    waitFor(async () => ((await annotations(s))[ANNOTATIONS.submittedAt] !== undefined ? annotations(s) : undefined), {
      what: `${s.ns}/${s.name} to be marked submitted`,
      timeoutMs: 60_000,
      ...(onTimeout ? { onTimeout } : {}),
    });

  /** Holds the next read of the Build's log: whoever sends it is claiming the Build (the log is read while the claim is written). */
  function holdBuildLog(s: Scene): Hold {
    const hold = cp.holdNextBuildLog(s.ns, s.name);
    cleanups.push(async () => hold.release());
    return hold;
  }

  /** The holder's log read is held, and its claim is on the Build: it may not submit before both. */
  async function claimedWhileLogHeld(s: Scene, log: Hold): Promise<void> {
    await within(log.caught, "A's build-log read, beside its claim");
    await waitFor(async () => ((await annotations(s))[ANNOTATIONS.claim] !== undefined ? true : undefined), { what: "A's claim, while its log read is held", timeoutMs: 30_000 });
  }

  it('(1) a holder paused after its claim, taken over meanwhile, does not submit when it resumes', async (t) => {
    const s = await scene('il-paused');
    const [a, b] = [await replica(s, 'replica-a'), await replica(s, 'replica-b')];
    const log = holdBuildLog(s);
    const first = deliver(a, s);
    await claimedWhileLogHeld(s, log);
    const holderA = holderOf((await annotations(s))[ANNOTATIONS.claim]);
    assert.notEqual(holderA, undefined, 'A claimed the Build while its log read was held');

    a.fn.process.kill('SIGSTOP');
    log.release();
    const taken = await deliverUntilAccepted(b, s, 'B to take over from the paused holder');
    assert.equal(taken.reply, SUBMITTED, describeDelivery(taken));
    const byB = await marked(s, () => tail(b));

    a.fn.process.kill('SIGCONT');
    const late = await within(first, "A's delivery to be answered once it resumed");
    assert.equal(submissions(s), 1, `Thoth got ${submissions(s)} submissions of the Build: A submitted after B had taken over`);
    assert.ok(!isSuccess(late) || late.reply === null, `A answered ${describeDelivery(late)} after it had been taken over`);
    const now = await annotations(s);
    assert.equal(now[ANNOTATIONS.submittedAt], byB[ANNOTATIONS.submittedAt], 'submitted-at moved after A resumed');
    assert.equal(now[ANNOTATIONS.analysisIds], byB[ANNOTATIONS.analysisIds], 'analysis-ids moved after A resumed');
    assert.equal(await metric(b, 'build_watcher_resubmissions_total'), 1, "B's takeover is counted");
    t.diagnostic(JSON.stringify({ holderA, late: describeDelivery(late) }));
  });

  it("(2a) a replica whose wall clock is 20 s ahead treats a live, renewed claim as busy for as long as it lives", async (t) => {
    const s = await scene('il-skew-ahead');
    const a = await replica(s, 'replica-a');
    const b = await replica(s, 'replica-b', skewedClock('+20s'));
    const skewMs = clockSkewMs(b);
    assert.ok(skewMs > 10_000, `libfaketime did not move B's clock (${skewMs} ms ahead)`);
    const log = holdBuildLog(s);
    const first = deliver(a, s);
    await claimedWhileLogHeld(s, log);
    const claimed = (await annotations(s))[ANNOTATIONS.claim];

    const answers = await deliverFor(b, s, 2);
    assert.deepEqual(notBusy(answers), [], `B (clock +20 s) answered ${notBusy(answers).length} of ${answers.length} deliveries otherwise than busy while A held a live claim`);
    const claim = (await annotations(s))[ANNOTATIONS.claim];
    assert.equal(holderOf(claim), holderOf(claimed), 'A still holds the claim');
    assert.notEqual(claim, claimed, 'A renewed its claim meanwhile');

    log.release();
    const done = await within(first, "A's delivery, once its log is read");
    assert.equal(done.reply, SUBMITTED, describeDelivery(done));
    await marked(s, () => tail(a));
    const again = await deliver(b, s);
    assert.ok(isSuccess(again) && again.reply === null, `B answered ${describeDelivery(again)} once the Build was marked`);
    assert.equal(submissions(s), 1);
    t.diagnostic(JSON.stringify({ skewMs, deliveriesToB: answers.length }));
  });

  it("(2b) a dead holder whose wall clock was 120 s ahead is taken over after a lease, not 120 s", async (t) => {
    const s = await scene('il-skew-dead');
    const a = await replica(s, 'replica-a', skewedClock('+120s'));
    const b = await replica(s, 'replica-b');
    assert.ok(clockSkewMs(a) > 100_000, `libfaketime did not move A's clock (${clockSkewMs(a)} ms ahead)`);
    const log = holdBuildLog(s);
    void deliver(a, s).catch(() => undefined);
    await claimedWhileLogHeld(s, log);
    await kill9(a.fn);
    log.release();

    const start = performance.now();
    const taken = await deliverUntilAccepted(b, s, "B to take over the dead holder's claim (a lease, far below A's 120 s skew)", 30_000);
    assert.equal(taken.reply, SUBMITTED, describeDelivery(taken));
    assert.equal(submissions(s), 1);
    t.diagnostic(JSON.stringify({ takeoverMs: Math.round(performance.now() - start) }));
  });

  it('(3) the stated window, then the original event redelivered to the first holder: it neither re-marks nor replies', async (t) => {
    const s = await scene('il-redelivered');
    const [a, b] = [await replica(s, 'replica-a'), await replica(s, 'replica-b')];
    const answer = thothFront.holdNext(202);
    cleanups.push(async () => answer.release());
    const first = deliver(a, s).catch((error: unknown) => ({ status: 0, reply: null, body: String(error) }));
    await within(answer.caught, "Thoth's acceptance of A's submission");
    a.proxy.pause();
    a.proxy.sever();
    answer.release();

    // A is cut off for longer than a lease: the one window where a second submission is stated.
    const taken = await deliverUntilAccepted(b, s, 'B to take over from the cut-off holder');
    assert.equal(taken.reply, SUBMITTED, describeDelivery(taken));
    const byB = await marked(s, () => tail(b));
    assert.equal(submissions(s), 2, 'A and B each submitted once');
    a.proxy.resume();
    const firstAnswer = await within(first, "A's first delivery to be answered");

    const again = await deliver(a, s);
    assert.notEqual(again.reply, SUBMITTED, `A replied ${describeDelivery(again)} to the redelivered event`);
    const now = await annotations(s);
    assert.equal(now[ANNOTATIONS.submittedAt], byB[ANNOTATIONS.submittedAt], "submitted-at moved: A re-marked over B's mark");
    assert.equal(now[ANNOTATIONS.analysisIds], byB[ANNOTATIONS.analysisIds], "analysis-ids moved: A re-marked over B's mark");
    assert.equal(submissions(s), 2);
    assert.equal(await metric(b, 'build_watcher_resubmissions_total'), 1, "B's takeover is counted");
    await waitFor(async () => ((await metric(a, 'build_watcher_lost_lease_submissions_total')) === 1 ? true : undefined), {
      what: "A's submission whose mark found the lease lost to be counted",
      timeoutMs: 30_000,
      onTimeout: () => tail(a),
    });
    t.diagnostic(JSON.stringify({ first: describeDelivery(firstAnswer), redelivered: describeDelivery(again) }));
  });

  it("(4a) a holder cut from the API server right after Thoth's 202, briefly, marks once back; others find the Build busy", async (t) => {
    const s = await scene('il-cut-brief');
    const [a, b] = [await replica(s, 'replica-a'), await replica(s, 'replica-b')];
    const answer = thothFront.holdNext(202);
    cleanups.push(async () => answer.release());
    void deliver(a, s).catch(() => undefined);
    await within(answer.caught, "Thoth's acceptance of A's submission");
    const tried = a.proxy.connections();
    a.proxy.pause();
    a.proxy.sever();
    const cutAt = performance.now();
    answer.release();
    await waitFor(async () => (a.proxy.connections() > tried ? true : undefined), { what: 'A to try the API server while cut off', timeoutMs: 30_000 });
    const during = await deliver(b, s);
    a.proxy.resume();
    const cutMs = Math.round(performance.now() - cutAt);
    assert.equal(during.status, BUSY, `B answered ${describeDelivery(during)} while A held its claim, cut off`);

    // The adapter goes on delivering; B must find the Build busy until A has marked it.
    const settled = await deliverUntilAccepted(b, s, 'B to find the Build marked by A');
    assert.notEqual(settled.reply, SUBMITTED, `B submitted the Build again: ${describeDelivery(settled)}`);
    const marks = await marked(s, () => tail(a));
    assert.equal(submissions(s), 1, `Thoth got ${submissions(s)} submissions of the Build`);
    assert.equal(await metric(b, 'build_watcher_resubmissions_total'), 0);
    t.diagnostic(JSON.stringify({ cutMs, submittedAt: marks[ANNOTATIONS.submittedAt] }));
  });

  it('(4b) a holder whose mark keeps failing for two leases keeps its claim: nobody else submits; the mark lands later', async (t) => {
    const s = await scene('il-mark-fails');
    const [a, b] = [await replica(s, 'replica-a'), await replica(s, 'replica-b')];
    // A's marks only: whatever its holder wrote, submitted-at is in the mark (`~1submitted-at` in a JSON patch).
    const drop = cp.dropBuildPatches(s.ns, s.name, (patch) => patch.token === a.token && patch.body.includes('submitted-at'));
    cleanups.push(async () => drop.stop());
    void deliver(a, s).catch(() => undefined);
    await waitFor(async () => (drop.dropped() >= 1 ? true : undefined), { what: "A's mark, to drop it", timeoutMs: 60_000, onTimeout: () => tail(a) });
    assert.equal(submissions(s), 1);

    const answers = await deliverFor(b, s, 2);
    assert.deepEqual(notBusy(answers), [], `B answered ${notBusy(answers).length} of ${answers.length} deliveries otherwise than busy while A, submitted, retried its mark`);
    assert.equal(submissions(s), 1, `Thoth got ${submissions(s)} submissions of the Build while A retried its mark`);
    const dropped = drop.dropped();
    drop.stop();
    await marked(s, () => tail(a));
    assert.equal(submissions(s), 1, `Thoth got ${submissions(s)} submissions of the Build`);
    t.diagnostic(JSON.stringify({ dropped, deliveriesToB: answers.length }));
  });

  it('(5) the same event delivered to two replicas at once: one submission', async () => {
    const s = await scene('il-parallel');
    const [a, b] = [await replica(s, 'replica-a'), await replica(s, 'replica-b')];
    const answers = await Promise.all([deliver(a, s), deliver(b, s)]);
    await marked(s, () => `${tail(a)}\n---\n${tail(b)}`);
    for (const r of [a, b]) await deliverUntilAccepted(r, s, 'each replica to find the Build marked');
    assert.equal(submissions(s), 1, answers.map(describeDelivery).join('; '));
    assert.equal(answers.filter((d) => d.reply === SUBMITTED).length, 1, answers.map(describeDelivery).join('; '));
  });

  it('(6) a failing Build does not feed itself: its holder writes only the renewals it needs, however often the event comes back', async (t) => {
    const s = await scene('il-self-feeding');
    const a = await replica(s, 'replica-a');
    thoth.failNext(100_000, { status: 503, retryAfterSeconds: 0 });
    const path = `PATCH ${await cp.pathFor('build.openshift.io/v1', 'Build', s.ns, s.name)}`;
    const writes = () => cp.apiCallsWith(a.token).filter((call) => call === path).length;
    const thothAttempts = () => thoth.requests.filter((request) => request.endpoint === 'build-analysis').length;
    const [writesBefore, attemptsBefore] = [writes(), thothAttempts()];
    const seqOf = (claim: string | undefined) => Number(claim?.split(' ')[1]);

    const start = performance.now();
    const firstAnswer = await deliver(a, s);
    const firstClaim = (await annotations(s))[ANNOTATIONS.claim];
    const writesAtFirstClaim = writes();
    const answers = [firstAnswer, ...(await deliverFor(a, s, 6))];
    const elapsedMs = performance.now() - start;
    const lastClaim = (await annotations(s))[ANNOTATIONS.claim];
    const [written, attempts] = [writes() - writesBefore, thothAttempts() - attemptsBefore];
    const renewals = seqOf(lastClaim) - seqOf(firstClaim);
    const failed = answers.filter((d) => !isSuccess(d)).length;
    const bound = 1 + Math.floor(elapsedMs / RENEW_MS);
    t.diagnostic(JSON.stringify({ deliveries: answers.length, failed, written, bound, attempts, elapsedMs: Math.round(elapsedMs), firstClaim, lastClaim }));
    assert.equal(failed, answers.length, `every delivery failed while Thoth answered 503: ${answers.map(describeDelivery).join('; ')}`);
    assert.ok(
      written <= bound,
      `A wrote the Build ${written} times in ${answers.length} deliveries over ${Math.round(elapsedMs)} ms: more than 1 claim + 1 renewal per ${RENEW_MS} ms (${bound})`,
    );
    assert.ok(attempts <= answers.length * THOTH_CLIENT_ATTEMPTS, `${attempts} attempts at Thoth for ${answers.length} deliveries`);
    assert.equal(holderOf(lastClaim), holderOf(firstClaim), 'A kept its claim throughout');
    // The claim's second field counts its holder's writes: every write since was a renewal.
    assert.ok(
      Number.isInteger(renewals) && writes() - writesAtFirstClaim <= renewals && renewals <= bound,
      `from ${firstClaim ?? '(none)'} to ${lastClaim ?? '(none)'}: ${renewals} renewals counted, ${writes() - writesAtFirstClaim} writes made`,
    );

    thoth.clearFailures();
    const done = await deliverUntilAccepted(a, s, 'A to submit once Thoth is back');
    assert.equal(done.reply, SUBMITTED, describeDelivery(done));
    await marked(s, () => tail(a));
    assert.equal(submissions(s), 1);
  });
});

/** How far ahead of this process's wall clock a replica's is: its latest log line's `time` against now. */
function clockSkewMs(r: Replica): number {
  const times = r.fn.lines.flatMap((line) => {
    const match = /"time":(\d+)/.exec(line);
    return match?.[1] === undefined ? [] : [Number(match[1])];
  });
  const latest = times.at(-1);
  return latest === undefined ? 0 : latest - Date.now();
}
