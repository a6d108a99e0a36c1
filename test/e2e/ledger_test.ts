/**
 * The ledger (functions/ledger/) on the real kube-apiserver: two replicas, A and B, each its own
 * Ledger with a monotonic clock the test moves, over the product's own Kubernetes client with the
 * function's RBAC. Each interleaving of the fault run is forced step by step (a pause is a clock
 * moved without renewals; a partition is a store that fails), and the submissions are counted:
 * a submission is a passed fence, as the pipeline fences immediately before each POST to Thoth.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { transient } from '../../functions/errors.js';
import { connectKubeApi, isKubeStatus } from '../../functions/kube/api.js';
import type { KubeObject, ObjectCoordinates } from '../../functions/kube/object.js';
import { kubeObjectStore, type ObjectStore } from '../../functions/kube/store.js';
import type { Entry } from '../../functions/ledger/entry.js';
import { LeaseLostError } from '../../functions/ledger/claim.js';
import { Ledger } from '../../functions/ledger/ledger.js';
import { metricsRegistry } from '../../functions/observability/metrics.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { waitFor } from '../harness/wait.js';
import { FUNCTION_RULES, buildObject, completeStatus, createWithStatus, prepareNamespace } from './cluster.js';

const NS = 'ledger';
const LEASE = { leaseMs: 3_000, renewMs: 1_000 };
/** No renewal fires by itself within a test: a replica that does not renew is a paused one. */
const PAUSED = { leaseMs: 3_000, renewMs: 3_600_000 };

/** A replica: its ledger, the clock it reads, and a store the test can cut from the API server. */
function replica(store: ObjectStore, name: string, timing = LEASE) {
  let now = 0;
  let cutMarks = false;
  const cuttable: ObjectStore = {
    read: (ref, signal) => store.read(ref, signal),
    readBuildLog: (ref, signal) => store.readBuildLog(ref, signal),
    patchAnnotations: async (object, annotations, options) => {
      if (cutMarks && ANNOTATIONS.submittedAt in annotations) throw transient('Kubernetes API unreachable');
      return store.patchAnnotations(object, annotations, options);
    },
  };
  const ledger = new Ledger({ store: cuttable, hostname: name, timing, clock: () => now });
  return {
    ledger,
    advance: (ms: number) => (now += ms),
    cutMarks: (cut: boolean) => (cutMarks = cut),
  };
}

async function lostLeaseSubmissions(): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('build_watcher_lost_lease_submissions_total')?.get();
  return (metric?.values ?? []).reduce((sum, value) => sum + value.value, 0);
}

describe('the ledger on the real API server: every interleaving of the fault run submits once, or is in the stated window', { timeout: 300_000 }, () => {
  let cp: ControlPlane;
  let store: ObjectStore;
  let count = 0;

  before(async () => {
    cp = await startControlPlane();
    await prepareNamespace(cp, NS, { watcher: FUNCTION_RULES });
    const api = await connectKubeApi({ kubeconfigPath: await cp.kubeconfigForServiceAccount(NS, 'watcher') });
    store = kubeObjectStore(async () => api);
  });

  after(async () => {
    await cp?.stop();
  });

  async function build(): Promise<ObjectCoordinates> {
    const name = `build-${++count}`;
    await createWithStatus(cp, buildObject(NS, name, 'quay.io/team/app:1'), completeStatus('quay.io/team/app:1', `sha256:${'a'.repeat(64)}`));
    return { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name };
  }

  async function open(ledger: Ledger, ref: ObjectCoordinates): Promise<Entry | 'busy' | string> {
    const opened = await ledger.open(`${ref.namespace}/${ref.name}`, ref, {});
    return opened.kind === 'open' ? opened.entry : opened.kind === 'busy' ? 'busy' : opened.reason;
  }

  async function entryOf(ledger: Ledger, ref: ObjectCoordinates): Promise<Entry> {
    const opened = await open(ledger, ref);
    assert.ok(typeof opened === 'object', `expected to claim ${ref.name}, got ${String(opened)}`);
    return opened;
  }

  /** A submission happens only past the fence. */
  async function submit(entry: Entry, submissions: string[], who: string): Promise<void> {
    await entry.fence();
    submissions.push(who);
  }

  const marks = (who: string) => () => ({ [ANNOTATIONS.submittedAt]: `marked by ${who}` });
  const live = async (ref: ObjectCoordinates): Promise<KubeObject> => {
    const object = await store.read(ref);
    assert.ok(object);
    return object;
  };

  it('a failed JSON-patch test is 422 on the real API server, and changes nothing', async () => {
    const ref = await build();
    const before = await live(ref);
    await assert.rejects(
      store.patchAnnotations(ref, { [ANNOTATIONS.submittedAt]: 'x' }, { expect: { annotation: ANNOTATIONS.claim, value: 'nobody 1 3s' } }),
      (error: unknown) => isKubeStatus(error, 422),
    );
    assert.equal((await live(ref)).resourceVersion, before.resourceVersion);
  });

  it('a paused holder, resumed after another replica took over, does not submit, and its mark never lands', async () => {
    const ref = await build();
    const a = replica(store, 'a', PAUSED);
    const b = replica(store, 'b');
    const submissions: string[] = [];
    const held = await entryOf(a.ledger, ref);
    // A is paused here (no renewals). B sees A's claim, and times it on its own clock.
    assert.equal(await open(b.ledger, ref), 'busy');
    b.advance(LEASE.leaseMs);
    const taken = await entryOf(b.ledger, ref);
    assert.equal(taken.takeover, true);
    await submit(taken, submissions, 'b');
    await taken.close(marks('b'), { submitted: true });
    // A resumes: its monotonic clock moved on while it was stopped.
    a.advance(PAUSED.leaseMs);
    await assert.rejects(submit(held, submissions, 'a'), LeaseLostError);
    await assert.rejects(held.close(marks('a'), { submitted: false }), LeaseLostError);
    assert.deepEqual(submissions, ['b']);
    assert.equal((await live(ref)).annotations[ANNOTATIONS.submittedAt], 'marked by b');
  });

  it('wall clocks play no part: a replica whose clock is far ahead finds a live claim busy until it has seen it unchanged for a lease', async () => {
    const ref = await build();
    const a = replica(store, 'a');
    const b = replica(store, 'b');
    const held = await entryOf(a.ledger, ref);
    const firstValue = (await live(ref)).annotations[ANNOTATIONS.claim];
    assert.equal(await open(b.ledger, ref), 'busy');
    // A renews (its timer, every second); B looks again a lease later on its clock.
    await waitFor(async () => ((await live(ref)).annotations[ANNOTATIONS.claim] !== firstValue ? true : undefined), { what: 'a renewal', timeoutMs: 30_000 });
    b.advance(LEASE.leaseMs);
    assert.equal(await open(b.ledger, ref), 'busy', 'a renewed claim is seen anew');
    const submissions: string[] = [];
    await submit(held, submissions, 'a');
    await held.close(marks('a'), { submitted: true });
    assert.equal(await open(b.ledger, ref), 'already-submitted');
    assert.deepEqual(submissions, ['a']);
  });

  it('a holder whose mark fails keeps the claim renewed: another replica finds it busy, and it marks once the API answers', async () => {
    const ref = await build();
    const a = replica(store, 'a');
    const b = replica(store, 'b');
    const submissions: string[] = [];
    const held = await entryOf(a.ledger, ref);
    await submit(held, submissions, 'a');
    a.cutMarks(true);
    const closing = held.close(marks('a'), { submitted: true });
    assert.equal(await open(b.ledger, ref), 'busy');
    const seen = (await live(ref)).annotations[ANNOTATIONS.claim];
    await waitFor(async () => ((await live(ref)).annotations[ANNOTATIONS.claim] !== seen ? true : undefined), { what: 'a renewal while the mark is pending', timeoutMs: 30_000 });
    b.advance(LEASE.leaseMs);
    assert.equal(await open(b.ledger, ref), 'busy', 'still held, a lease after B first saw it');
    a.cutMarks(false);
    await closing;
    assert.equal(await open(b.ledger, ref), 'already-submitted');
    assert.deepEqual(submissions, ['a']);
  });

  it('the stated window: a holder cut off for longer than a lease after submitting; the other replica submits too, and the first one\'s late mark never overwrites', async () => {
    const ref = await build();
    const a = replica(store, 'a', PAUSED);
    const b = replica(store, 'b');
    const submissions: string[] = [];
    const before = await lostLeaseSubmissions();
    const held = await entryOf(a.ledger, ref);
    await submit(held, submissions, 'a');
    a.cutMarks(true);
    const closing = held.close(marks('a'), { submitted: true });
    assert.equal(await open(b.ledger, ref), 'busy');
    b.advance(LEASE.leaseMs);
    const taken = await entryOf(b.ledger, ref);
    await submit(taken, submissions, 'b');
    await taken.close(marks('b'), { submitted: true });
    const marked = await live(ref);
    a.cutMarks(false);
    await assert.rejects(closing, LeaseLostError);
    assert.deepEqual(submissions, ['a', 'b'], 'the one window: counted below');
    assert.equal(await lostLeaseSubmissions(), before + 1);
    const after = await live(ref);
    assert.equal(after.annotations[ANNOTATIONS.submittedAt], 'marked by b');
    assert.equal(after.resourceVersion, marked.resourceVersion, 'nothing written after B\'s mark');
  });

  it('the stated window: a holder paused after its fence, for longer than its lease allows, submits late; its mark never lands, and it is counted', async () => {
    const ref = await build();
    const a = replica(store, 'a', PAUSED);
    const b = replica(store, 'b');
    const submissions: string[] = [];
    const before = await lostLeaseSubmissions();
    const held = await entryOf(a.ledger, ref);
    await held.fence();
    // A stops here, its request to Thoth not yet sent; B takes over, submits and marks.
    assert.equal(await open(b.ledger, ref), 'busy');
    b.advance(LEASE.leaseMs);
    const taken = await entryOf(b.ledger, ref);
    await submit(taken, submissions, 'b');
    await taken.close(marks('b'), { submitted: true });
    const marked = await live(ref);
    // A resumes where it stopped: past its fence, its request goes out.
    submissions.push('a');
    await assert.rejects(held.close(marks('a'), { submitted: true }), LeaseLostError);
    assert.deepEqual(submissions, ['b', 'a']);
    assert.equal(await lostLeaseSubmissions(), before + 1);
    assert.equal((await live(ref)).resourceVersion, marked.resourceVersion, 'B\'s mark stands');
  });

  it('a retry of its own fresh claim writes nothing: a failing Build does not feed itself update events', async () => {
    const ref = await build();
    const a = replica(store, 'a', PAUSED);
    const first = await entryOf(a.ledger, ref);
    first.leave();
    const claimed = await live(ref);
    for (let retry = 0; retry < 5; retry++) (await entryOf(a.ledger, ref)).leave();
    assert.equal((await live(ref)).resourceVersion, claimed.resourceVersion, 'five retries, no write');
  });
});
