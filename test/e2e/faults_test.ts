/**
 * Nothing lost, nothing twice, under crashes, replicas and outages: the real kube-apiserver and
 * etcd, the real ApiServerSource adapter posting straight to the function (the direct-sink
 * variant, the weakest delivery there is), the function under faas-js-runtime, the command line,
 * and the Thoth stand-in. Claims are leased for 3 s (BUILD_WATCHER_CLAIM_LEASE_SECONDS), so a dead
 * holder's claim expires in seconds, not a minute.
 *
 * Every scenario counts submissions per Build at the stand-in (by the build log's
 * `namespace/name`), after at most one sweep: each Build exactly once, except in the one window
 * the README states (Thoth accepted, the process died before marking), where it is exactly twice,
 * the second answered from Thoth's cache and counted in build_watcher_resubmissions_total.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { startEventSink, type ReceivedEvent } from '../harness/event-sink.js';
import { waitFor } from '../harness/wait.js';
import { metricTotal } from '../function/run-function.js';
import { FaultBench, LEASE_SECONDS, names, tail, type RunningFunction, type SweepSummary } from './fault-bench.js';
import { kill9 } from './cluster.js';
import { startHttpRelay, type HttpRelay } from './http-relay.js';

const IMAGE_BUILT = 'dev.build-watcher.image.built';
const builtName = (event: ReceivedEvent): string => (JSON.parse(event.body) as { object: { name: string } }).object.name;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** `build-watcher <args>` in a child process, as a user runs it. */
function runCli(args: readonly string[], env: Readonly<Record<string, string>>) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'functions/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return { child, output, exited };
}

describe('faults: crashes, replicas, a Thoth outage and an adapter restart lose nothing and submit nothing twice', { timeout: 420_000 }, () => {
  let bench: FaultBench;

  before(async () => {
    bench = await FaultBench.start();
  });

  afterEach(() => bench.cleanup());

  after(() => bench?.close());

  /** One function behind an address the adapter posts to, so that another can take its place. */
  async function functionBehindAddress(ns: string, env: Readonly<Record<string, string>> = {}): Promise<{ address: HttpRelay; first: RunningFunction }> {
    const address = await startHttpRelay();
    bench.onCleanup(() => address.close());
    const first = await bench.functionFor(ns, env);
    address.setUpstreams([first.url]);
    await bench.adapterFor(ns, address.url);
    return { address, first };
  }

  /**
   * One sweep with nothing failed. A claim whose holder died (`whose`) is taken over within it:
   * the sweep looks again at an object it found busy once the lease it saw has passed.
   */
  async function sweepOnceClaimsExpire(url: string, whose: string): Promise<SweepSummary> {
    const summary = await bench.sweep(url);
    assert.equal(summary.failed, 0, `${whose}: ${JSON.stringify(summary)}`);
    return summary;
  }

  /** kill -9 of the function behind `address`, a new one in its place, and one sweep. */
  async function replaceAfterKill(ns: string, address: HttpRelay, dead: RunningFunction, env: Readonly<Record<string, string>> = {}): Promise<{ second: RunningFunction; summary: SweepSummary }> {
    await kill9(dead);
    address.setUpstreams([]);
    const second = await bench.functionFor(ns, env);
    address.setUpstreams([second.url]);
    return { second, summary: await sweepOnceClaimsExpire(address.url, "the dead holder's claim to expire") };
  }

  /** Stalls Thoth's next submission; the answer waits until that submission is in flight. */
  function stallNextSubmission(onTimeout?: () => string): () => Promise<void> {
    const stalled = () => bench.thoth.requests.filter((request) => request.status === 'stalled').length;
    const before = stalled();
    bench.thoth.stallNext(1);
    return async () => {
      await waitFor(async () => (stalled() > before ? true : undefined), { what: 'a submission in flight', timeoutMs: 60_000, ...(onTimeout ? { onTimeout } : {}) });
    };
  }

  const resubmissions = (fn: RunningFunction) => metricTotal(fn.url, /^build_watcher_resubmissions_total\{/);

  it('function kill -9 after Thoth accepted, before the mark: the one stated duplicate, answered from cache and counted; the second image.built carries the first one\'s id', async (t) => {
    const ns = 'faults-fn-window';
    await bench.namespace(ns);
    // image.built goes to K_SINK once Thoth accepted, before the mark: holding the sink's answer holds the first holder there.
    const sink = await startEventSink();
    bench.onCleanup(() => sink.close());
    const env = { K_SINK: sink.url };
    const held = sink.holdNext();
    bench.onCleanup(async () => held.release());
    const { address, first } = await functionBehindAddress(ns, env);

    const builds = names('w', 4);
    await bench.finishBuilds(ns, builds);
    const firstAnnouncement = await sink.waitForEvent((event) => event.attributes['type'] === IMAGE_BUILT, 60_000);
    const interrupted = builtName(firstAnnouncement);

    const { second, summary } = await replaceAfterKill(ns, address, first, env);
    await bench.allMarked(ns, builds, tail(second));

    const counts = bench.submissionsPerBuild(ns);
    assert.deepEqual(Object.fromEntries(counts), Object.fromEntries(builds.map((name) => [name, name === interrupted ? 2 : 1])));
    const [once, again] = bench.thoth.submissions
      .filter((submission) => submission.body?.build_log?.metadata === `${ns}/${interrupted}`)
      .map((submission) => submission.response['output_image_analysis'] as { analysis_id?: string; cached?: boolean } | null);
    assert.equal(again?.cached, true, 'Thoth answered the second submission from its cache');
    assert.equal(again?.analysis_id, once?.analysis_id);
    assert.equal(await resubmissions(second), 1, 'the takeover is counted');
    // The same fact twice reaches consumers as one event: the takeover's announcement carries the first one's id.
    const announced = await waitFor(async () => {
      const events = sink.received.filter((event) => event.attributes['type'] === IMAGE_BUILT);
      return events.length === builds.length + 1 ? events : undefined;
    }, { what: 'an image.built per submission', timeoutMs: 30_000 });
    const interruptedAnnouncements = announced.filter((event) => builtName(event) === interrupted);
    assert.deepEqual(interruptedAnnouncements.map((event) => event.attributes['id']), [firstAnnouncement.attributes['id'], firstAnnouncement.attributes['id']]);
    assert.equal(interruptedAnnouncements[1]?.body, firstAnnouncement.body, 'the same data');
    assert.equal(new Set(announced.map((event) => event.attributes['id'])).size, builds.length, 'one id per Build');
    bench.report(t, ns, { sweep: summary, imageBuiltId: firstAnnouncement.attributes['id'] });
  });

  it('function kill -9 while a submission is in flight (Thoth stalled), then a restart and one sweep: 0 lost, 0 twice', async (t) => {
    const ns = 'faults-fn-stall';
    await bench.namespace(ns);
    const { address, first } = await functionBehindAddress(ns);

    const inFlight = stallNextSubmission(tail(first));
    const builds = names('s', 4);
    await bench.finishBuilds(ns, builds);
    await inFlight();
    // One event at a time: while this one waits for Thoth, the adapter sends nothing else, not
    // the other Builds' events, not the updates each renewal of the claim causes.
    const delivered = address.requests();
    const claim = async () => (await bench.listBuilds(ns)).map((build) => build.metadata.annotations?.[ANNOTATIONS.claim]).find((value) => value !== undefined);
    const seen = new Set([await claim()]);
    await waitFor(async () => (seen.add(await claim()).size >= 3 ? true : undefined), { what: 'two renewals of the claim', timeoutMs: 30_000 });
    assert.equal(address.requests(), delivered, 'nothing more was delivered while one event was in flight');

    const { second, summary } = await replaceAfterKill(ns, address, first);
    await bench.allMarked(ns, builds, tail(second));

    bench.assertEachOnce(ns, builds);
    assert.equal(await resubmissions(second), 1, 'the stalled Build was taken over from its dead holder');
    bench.report(t, ns, { sweep: summary, delivered });
  });

  it('command line: watch kill -9 mid-burst; analyze-existing counts the dead claim busy and exits 0; a restarted watch takes it over', async (t) => {
    const ns = 'faults-cli';
    await bench.namespace(ns);
    const env = { KUBECONFIG: await bench.cp.kubeconfigForServiceAccount(ns, 'watcher'), THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1' };
    const cli = (command: string, leaseSeconds: string) => {
      const run = runCli([command, '-n', ns, '-a', bench.thoth.url], { ...env, BUILD_WATCHER_CLAIM_LEASE_SECONDS: leaseSeconds });
      bench.onCleanup(async () => {
        run.child.kill('SIGKILL');
        await run.exited;
      });
      return run;
    };
    // The killed watch leases for 24 s (renewed every 8): analyze-existing meets its claim alive.
    const killed = cli('watch', '24');
    const builds = names('c', 10);
    await bench.finishBuilds(ns, builds);
    await waitFor(async () => (bench.submittedIn(ns) >= 3 ? true : undefined), { what: 'the burst under way', timeoutMs: 60_000, onTimeout: () => killed.output.stderr });
    await stallNextSubmission(() => killed.output.stderr)();
    killed.child.kill('SIGKILL');
    await killed.exited;
    const unsubmitted = builds.filter((name) => !bench.submissionsPerBuild(ns).has(name));

    const existing = cli('analyze-existing', LEASE_SECONDS);
    assert.equal(await existing.exited, 0, existing.output.stdout + existing.output.stderr);
    assert.match(existing.output.stdout, new RegExp(`sweep: ${unsubmitted.length - 1} submitted, 1 busy \\(claimed by a live process\\), 0 refused, 0 failed`), existing.output.stdout);

    // Its default resync is 30 minutes away: only retrying the busy object takes it over.
    const restarted = cli('watch', LEASE_SECONDS);
    await bench.allMarked(ns, builds, () => restarted.output.stderr);
    bench.assertEachOnce(ns, builds);
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0);
    bench.report(t, ns, { analyzeExisting: existing.output.stdout.trim() });
  });

  it('2 replicas behind one address: Thoth answering 503 loses nothing; a sweep counts the other replica\'s live claim busy; after that replica\'s kill -9, one sweep: 0 lost, 0 twice', async (t) => {
    const ns = 'faults-replicas';
    await bench.namespace(ns);
    const [a, b] = await Promise.all([bench.functionFor(ns, { HOSTNAME: 'replica-a' }), bench.functionFor(ns, { HOSTNAME: 'replica-b' })]);
    const address = await startHttpRelay([a.url, b.url]);
    bench.onCleanup(() => address.close());
    await bench.adapterFor(ns, address.url);

    const outage = 12;
    const failedBefore = bench.thoth.requests.filter((request) => request.status === 503).length;
    bench.thoth.failNext(outage, { status: 503 });
    const builds = names('r', 8);
    await bench.finishBuilds(ns, builds);
    await waitFor(async () => (bench.thoth.requests.filter((request) => request.status === 503).length - failedBefore >= outage ? true : undefined), {
      what: `${outage} submissions answered 503`,
      timeoutMs: 90_000,
    });
    const afterOutage = await sweepOnceClaimsExpire(address.url, 'claims left by failed attempts to expire');
    assert.equal(afterOutage.complete, true, JSON.stringify(afterOutage));
    // An object the other replica is working on right now is busy: that replica finishes it.
    await bench.allMarked(ns, builds, () => `${tail(a)()}\n---\n${tail(b)()}`);

    // One replica holds a live claim, its submission stalled; Builds that finish meanwhile wait
    // behind that event in the adapter, so only the other replica's sweep can submit them.
    const inFlight = stallNextSubmission();
    await bench.finishBuilds(ns, ['held']);
    await inFlight();
    const claim = (await bench.listBuilds(ns)).find((build) => build.metadata.name === 'held')?.metadata.annotations?.[ANNOTATIONS.claim] ?? '';
    const [holder, other] = claim.startsWith('replica-a-') ? [a, b] : [b, a];
    const waiting = names('later', 2);
    await bench.finishBuilds(ns, waiting);
    const meanwhile = await bench.sweep(other.url);
    assert.deepEqual(
      { submitted: meanwhile.submitted, busy: meanwhile.busy, failed: meanwhile.failed, complete: meanwhile.complete },
      { submitted: 2, busy: 1, failed: 0, complete: true },
      JSON.stringify(meanwhile),
    );

    await kill9(holder);
    address.setUpstreams([other.url]);
    const afterCrash = await sweepOnceClaimsExpire(other.url, "the dead replica's claim to expire");
    const all = [...builds, 'held', ...waiting];
    await bench.allMarked(ns, all, tail(other));
    bench.assertEachOnce(ns, all);
    bench.report(t, ns, { afterOutage, meanwhile, afterCrash, resubmissions: await resubmissions(other) });
  });

  it('adapter kill -9 mid-burst: a restart replays nothing, one sweep submits the rest, 0 twice; an idle sweep costs one LIST', async (t) => {
    const ns = 'faults-adapter';
    await bench.namespace(ns);
    const fn = await bench.functionFor(ns);
    const adapter = await bench.adapterFor(ns, fn.url);

    const burst = names('d', 8);
    await bench.finishBuilds(ns, burst);
    await waitFor(async () => (bench.submittedIn(ns) >= 2 ? true : undefined), { what: 'the burst under way', timeoutMs: 60_000, onTimeout: tail(fn) });
    for (const running of adapter.processes().filter((p) => p.running())) {
      // The whole group: the watchdog and the adapter binary, as a node failure takes a pod.
      await running.kill();
    }
    const whileDown = names('e', 3);
    await bench.finishBuilds(ns, whileDown);
    await adapter.restart();
    await bench.finishBuilds(ns, ['f-1']);
    await bench.allMarked(ns, ['f-1'], tail(fn));
    // One event at a time, in order: had the restart sent anything for the Builds that finished
    // while it was down, it would have come before f-1's.
    const counts = bench.submissionsPerBuild(ns);
    assert.deepEqual(whileDown.map((name) => counts.get(name) ?? 0), [0, 0, 0], 'the restarted adapter sent nothing for them');

    const summary = await sweepOnceClaimsExpire(fn.url, 'no claim in progress');
    const all = [...burst, ...whileDown, 'f-1'];
    await bench.allMarked(ns, all, tail(fn));
    bench.assertEachOnce(ns, all);

    // An idle sweep: one LIST page of Builds, and not one GET or PATCH of a Build. Counted at the
    // API server, so it is measured alone: the other scenarios' processes are stopped, and so
    // are this adapter and this function (the adapter still delivers the echoes of the marks,
    // and each costs a GET); a fresh replica sweeps.
    await adapter.stop();
    await fn.stop();
    const sweeper = await bench.functionFor(ns);
    const requests = async () => {
      const text = (await bench.cp.admin.send({ path: '/metrics' })).text;
      const count = (verb: string) =>
        text
          .split('\n')
          .filter((line) => line.startsWith('apiserver_request_total{') && line.includes('resource="builds"') && line.includes('subresource=""') && line.includes(`verb="${verb}"`))
          .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
      return { list: count('LIST'), get: count('GET'), patch: count('PATCH') };
    };
    const before = await requests();
    const idle = await bench.sweep(sweeper.url);
    const spent = await requests();
    assert.equal(idle.picked, 0);
    assert.deepEqual({ list: spent.list - before.list, get: spent.get - before.get, patch: spent.patch - before.patch }, { list: 1, get: 0, patch: 0 });
    bench.report(t, ns, { sweep: summary, idle });
  });
});
