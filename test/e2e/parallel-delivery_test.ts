/**
 * Parallel delivery on the default install, on real Knative Eventing (as broker_test.ts runs it):
 * the shipped Broker's `messaging.knative.dev/async-handler` annotation reaches its trigger
 * InMemoryChannel, whose dispatcher then delivers each event on its own. Stand-ins: Thoth
 * (test/thoth-stub), Serving (serving-stand-in.ts), builds/log; real docker-registry processes.
 *
 * Changes to the shipped files, here and said here: broker.yaml's own `retry` is 2 and its
 * `backoffDelay` PT0.5S instead of 12 and PT1S, so a Build that fails for good reaches the dead
 * letters in about a minute instead of 68. The function runs with THOTH_PUSH_REGISTRY (a second
 * registry) and a 3 s claim lease, so that a slow copy and a dead replica's claim happen here.
 *
 * Every wait is on a condition with a deadline, except the registry's own slowness (a fault's
 * duration) and the explicit 5 s bound; faults are judged by counting outcomes.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { postViaProxy } from '../harness/cluster-proxy.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { startEventing, type Eventing } from '../harness/eventing.js';
import { waitFor } from '../harness/wait.js';
import { cloudEventHeaders, metricTotal } from '../function/run-function.js';
import { startFaultyProxy, type FaultyProxy } from '../registry/faulty-proxy.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { clusterRegistryStream, completeStatus, createWithStatus, kill9, streamTagBuild } from './cluster.js';
import { BROKER, BROKER_URL, deployDefaultInstall, NAMESPACE as NS, type DefaultInstall } from './default-install.js';
import { startHttpRelay } from './http-relay.js';
import { builtName, startThothRecorder } from './thoth-recorder.js';

const BUILDS = `/apis/build.openshift.io/v1/namespaces/${NS}/builds`;
const ASYNC_HANDLER = 'messaging.knative.dev/async-handler';
/** How long the push registry holds each upload request of the slow image: under the copier's 60 s idle timeout, over 60 s together. */
const SLOW_HOLD_MS = 32_000;

interface BuildJson { metadata: { name: string; annotations?: Record<string, string> } }

describe('parallel delivery on real Knative Eventing (Broker path, shipped async-handler annotation)', { timeout: 1_800_000 }, () => {
  let cp: ControlPlane;
  let eventing: Eventing;
  let registry: RunningRegistry;
  let pushRegistry: RunningRegistry;
  let pushFront: FaultyProxy;
  let thoth: ThothStub;
  let install: DefaultInstall;
  let appDigest: string;
  let slowDigest: string;
  /** When each Build's submission reached Thoth (ms), stamped as the stub records it. */
  const receipts = new Map<string, number[]>();
  let stamping = true;

  async function build(name: string, config = 'app', image = `${registry.host}/${NS}/app:latest`, digest = appDigest): Promise<number> {
    cp.setBuildLog(NS, name, `built ${name}\n`);
    await createWithStatus(cp, streamTagBuild(NS, name, config), completeStatus(image, digest));
    return Date.now();
  }

  const markedNames = async (prefix: string): Promise<Set<string>> =>
    new Set(((await cp.admin.json({ path: BUILDS })) as { items: BuildJson[] }).items
      .filter((b) => b.metadata.name.startsWith(prefix) && b.metadata.annotations?.[ANNOTATIONS.submittedAt] !== undefined).map((b) => b.metadata.name));

  const waitMarked = (names: readonly string[], timeoutMs: number): Promise<true> =>
    waitFor(async () => {
      const marked = await markedNames('');
      return names.every((name) => marked.has(name)) ? true : undefined;
    }, { what: `${names.length} Builds marked submitted`, timeoutMs, intervalMs: 250 });

  const submissionsOf = (name: string): number => receipts.get(name)?.length ?? 0;
  const range = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
  const deadLettered = (name: string): boolean => install.deadLetters.received.some((e) => e.body.includes(`"name":"${name}"`));

  /** Stamps each submission with the time the stub recorded it: awaitSubmissions resolves as it records. */
  async function stampReceipts(): Promise<void> {
    let seen = 0;
    while (stamping) {
      const all = await thoth.awaitSubmissions(seen + 1, 2_000).catch(() => undefined);
      if (all === undefined) continue;
      const now = Date.now();
      for (const submission of all.slice(seen)) {
        const name = builtName(submission.body?.build_log?.log) ?? '';
        receipts.set(name, [...(receipts.get(name) ?? []), now]);
      }
      seen = all.length;
    }
  }

  before(async () => {
    registry = await startRegistry();
    pushRegistry = await startRegistry();
    // The push registry holds each request of the slow image's upload (start, blob, manifest): a slow registry.
    pushFront = await startFaultyProxy({
      target: pushRegistry.url,
      fault: (req) => (req.method !== 'GET' && req.method !== 'HEAD' && (req.url ?? '').includes(`/${NS}/slow/`) ? { kind: 'hold', until: delay(SLOW_HOLD_MS) } : undefined),
    });
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host, pushFront.host] });
    cp = await startControlPlane();
    appDigest = (await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [4096] })).digest;
    const pushed = await pushTestImage(registry, { repository: `${NS}/slow`, tag: 'latest', layerSizes: [8192] });
    slowDigest = pushed.digest;
    eventing = await startEventing(cp);
    install = await deployDefaultInstall(cp, eventing, thoth.url, {
      brokerDelivery: { retry: 2, backoffDelay: 'PT0.5S' },
      functionEnv: { THOTH_PUSH_REGISTRY: pushFront.host, THOTH_NO_DESTINATION_REGISTRY_TLS_VERIFY: '1', BUILD_WATCHER_CLAIM_LEASE_SECONDS: '3' },
    });
    await clusterRegistryStream(cp, registry.host, NS, 'app');
    await clusterRegistryStream(cp, registry.host, NS, 'slow');
    void stampReceipts();
  });

  after(async () => {
    stamping = false;
    await install?.stop();
    await eventing?.stop();
    await cp?.stop();
    await pushFront?.close();
    await pushRegistry?.stop();
    await registry?.stop();
    await thoth?.close();
  });

  it('the Broker\'s async-handler annotation reaches its trigger InMemoryChannel, and Builds are submitted while Thoth\'s answer for another is held', async () => {
    const channels = (await cp.admin.json({ path: `/apis/messaging.knative.dev/v1/namespaces/${NS}/inmemorychannels` })) as {
      items: { metadata: { name: string; annotations?: Record<string, string>; ownerReferences?: { kind: string; name: string }[] } }[];
    };
    const channel = channels.items.find((c) => c.metadata.ownerReferences?.some((o) => o.kind === 'Broker' && o.name === BROKER));
    assert.equal(channel?.metadata.annotations?.[ASYNC_HANDLER], 'true', `the Broker's channel ${channel?.metadata.name ?? '(none)'} carries the annotation`);

    thoth.holdNext(1);
    await build('held-1');
    await waitFor(async () => (thoth.held === 1 ? true : undefined), { what: "Thoth's answer for held-1 held", timeoutMs: 120_000 });
    const others = range('beside-', 5);
    for (const name of others) await build(name);
    await waitMarked(others, 120_000);
    assert.equal(thoth.held, 1, "held-1's answer was still held while the others were submitted");
    assert.equal((await markedNames('held-')).size, 0, 'held-1 is not marked before Thoth answers');
    thoth.releaseHeld();
    await waitMarked(['held-1'], 120_000);
    assert.deepEqual(['held-1', ...others].map(submissionsOf), [1, 1, 1, 1, 1, 1], 'each submitted once');
  });

  it('head of line: a Build whose registry answers 503 for its whole retry schedule and one whose push copy takes over 60 s hold up none of 30 Builds: each is submitted within 5 s of completing', async (t) => {
    const down = await startFaultyProxy({ target: registry.url, fault: () => ({ kind: 'status', status: 503 }) });
    try {
      // An ImageStream makes that registry the cluster's, so the function copies from it to the push registry.
      await clusterRegistryStream(cp, down.host, NS, 'stuck');
      await build('stuck-1', 'stuck', `${down.host}/${NS}/stuck:latest`, appDigest);
      await waitFor(async () => (down.seen.length > 0 ? true : undefined), { what: "the stuck Build's copy under way", timeoutMs: 120_000 });
      const slowCompleted = await build('slow-1', 'slow', `${registry.host}/${NS}/slow:latest`, slowDigest);
      await waitFor(async () => (pushFront.seen.some((r) => r.fault === 'hold') ? true : undefined), { what: "the slow Build's upload held", timeoutMs: 120_000 });

      const normal = range('hol-', 30);
      const completed = new Map<string, number>();
      // One after another, each once the one before is at Thoth: a test of waiting behind the two
      // Builds, not of throughput under a burst (npm run bench:burst measures that).
      for (const name of normal) {
        completed.set(name, await build(name));
        await waitFor(async () => (submissionsOf(name) > 0 ? true : undefined), { what: `${name} at Thoth`, timeoutMs: 120_000 });
      }
      const latencies = normal.map((name) => (receipts.get(name)?.[0] ?? Infinity) - (completed.get(name) ?? 0));
      t.diagnostic(`completion to Thoth: max ${Math.max(...latencies)} ms, mean ${Math.round(latencies.reduce((a, b) => a + b, 0) / latencies.length)} ms`);
      assert.deepEqual(normal.filter((_, i) => (latencies[i] ?? Infinity) > 5_000), [], `over 5 s: ${JSON.stringify(latencies)}`);
      assert.equal(submissionsOf('slow-1'), 0, 'the slow copy was still running when all 30 were submitted');

      await waitMarked(['slow-1'], 300_000);
      const copyMs = (receipts.get('slow-1')?.[0] ?? 0) - slowCompleted;
      t.diagnostic(`slow-1 submitted ${copyMs} ms after completing`);
      assert.ok(copyMs >= 60_000, `the slow copy took ${copyMs} ms`);
      // Its Complete event: the object as the build controller left it, before any claim of the function's.
      await install.deadLetters.waitForEvent((e) => e.body.includes('"name":"stuck-1"') && !e.body.includes(ANNOTATIONS.claim), 300_000);
      // Besides its Complete event, the echoes of the function's claim renewals on it end there too, each after its retries.
      const dead = install.deadLetters.received.filter((e) => e.body.includes('"name":"stuck-1"'));
      t.diagnostic(`stuck-1: ${dead.length} events in the dead letters`);
      assert.deepEqual([...new Set(dead.map((e) => e.attributes['knativeerrorcode']))], ['503']);
      assert.deepEqual({ stuck: submissionsOf('stuck-1'), slow: submissionsOf('slow-1') }, { stuck: 0, slow: 1 });
      assert.deepEqual(normal.filter((name) => submissionsOf(name) !== 1), [], 'each normal Build submitted once');
    } finally {
      await down.close();
      // A Build that can never be copied would fail every later sweep here; delete it, as its owner would.
      await cp.admin.json({ method: 'DELETE', path: `${BUILDS}/stuck-1` }).catch(() => undefined);
    }
  });

  it('4 replicas behind one address, kill -9 of one mid-burst with an answer from Thoth on its way: 0 lost after one sweep, a second submission only for a Build it had sent', async (t) => {
    const recorders = await Promise.all([1, 2, 3, 4].map(() => startThothRecorder(thoth.url)));
    const replicas = await Promise.all(recorders.map((r, i) => install.startReplica({ THOTH_USER_API_HOST: r.url, HOSTNAME: `replica-${i + 1}` })));
    const address = await startHttpRelay(replicas.map((r) => r.url));
    try {
      await eventing.serveService(NS, 'build-watcher', Number(new URL(address.url).port));
      const burst = range('crash-', 40);
      let next = 0;
      while (next < 10) await build(burst[next++] ?? '');
      // Mid-burst, the victim is whichever replica next has a submission accepted by Thoth, its answer on its way.
      const holds = recorders.map((r) => r.holdNextAnswer());
      let victimIndex: number | undefined;
      void Promise.race(holds.map((hold, i) => hold.caught.then(() => i))).then((i) => (victimIndex = i));
      while (victimIndex === undefined && next < 30) await build(burst[next++] ?? '');
      const index = await waitFor(async () => victimIndex, {
        what: "Thoth's answer to a replica held", timeoutMs: 120_000,
        onTimeout: () => `sent per replica ${JSON.stringify(recorders.map((r) => r.sent.length))}, relayed ${address.requests()}`,
      });
      const victim = replicas[index];
      const victimThoth = recorders[index];
      if (victim === undefined || victimThoth === undefined) throw new Error('no victim');
      const survivors = replicas.filter((r) => r !== victim);
      for (const [i, hold] of holds.entries()) if (i !== index) hold.release();
      await kill9(victim);
      address.setUpstreams(survivors.map((r) => r.url));
      holds[index]?.release();
      const sentByVictim = new Set(victimThoth.sent);
      while (next < burst.length) await build(burst[next++] ?? '');

      // Everything the Broker had is settled: marked, or in the dead letters after its retries.
      const marked = (): Promise<Set<string>> => markedNames('crash-');
      await waitFor(async () => {
        const done = await marked();
        return burst.every((name) => done.has(name) || deadLettered(name)) ? true : undefined;
      }, { what: 'each burst Build marked or dead-lettered', timeoutMs: 300_000, intervalMs: 250 });
      const unmarked = burst.length - (await marked()).size;
      const sweeps = (): Promise<number> => Promise.all(survivors.map((r) => metricTotal(r.url, /build_watcher_events_received_total\{type="sweep"/))).then((n) => n.reduce((a, b) => a + b, 0));
      const sweepsBefore = await sweeps();
      const sweep = await postViaProxy(eventing.proxyUrl, BROKER_URL, cloudEventHeaders('dev.build-watcher.sweep.requested', { source: 'test' }), '{}');
      assert.ok(sweep.status >= 200 && sweep.status < 300, `sweep request accepted: ${sweep.status}`);
      await waitMarked(burst, 300_000);

      const counts = burst.map((name) => [name, submissionsOf(name)] as const);
      const twice = counts.filter(([, n]) => n > 1).map(([name]) => name);
      t.diagnostic(`victim sent ${sentByVictim.size}; ${unmarked} left unmarked before the sweep; submitted twice: ${JSON.stringify(twice)}`);
      assert.deepEqual(counts.filter(([, n]) => n === 0), [], '0 lost');
      assert.deepEqual(twice.filter((name) => !sentByVictim.has(name)), [], 'a second submission only for a Build the killed replica had sent to Thoth');
      assert.deepEqual(counts.filter(([, n]) => n > 2), [], 'at most twice');
      assert.equal((await sweeps()) - sweepsBefore, 1, 'one sweep delivery');
    } finally {
      await address.close();
      for (const recorder of recorders) await recorder.close();
    }
  });
});
