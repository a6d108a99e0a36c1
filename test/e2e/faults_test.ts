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
import { after, afterEach, before, describe, it, type TestContext } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import type { AdapterHandle } from '../harness/adapter.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { waitFor } from '../harness/wait.js';
import { metricTotal, postCloudEvent, startFunction } from '../function/run-function.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { FUNCTION_RULES, finishBuild, functionEnv, kill9, listBuilds, prepareNamespace, submissionsPerBuild, type Rule } from './cluster.js';
import { startHttpRelay, type HttpRelay } from './http-relay.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LEASE_SECONDS = '3';
const ADAPTER_RULES: readonly Rule[] = [{ apiGroups: ['build.openshift.io'], resources: ['builds'], verbs: ['get', 'list', 'watch'] }];

type RunningFunction = Awaited<ReturnType<typeof startFunction>>;

interface SweepSummary {
  readonly picked: number;
  readonly submitted: number;
  readonly busy: number;
  readonly failed: number;
  readonly complete: boolean;
}

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
  let cp: ControlPlane;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  /** In front of Thoth: can withhold an accepted answer from the function. */
  let thothFront: HttpRelay;
  /** What a scenario started, stopped when it ends: the next one runs alone. */
  const cleanups: (() => Promise<unknown>)[] = [];
  const digests = new Map<string, string>();

  before(async () => {
    [cp, registry] = await Promise.all([startControlPlane(), startRegistry()]);
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
    thothFront = await startHttpRelay([thoth.url]);
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  after(async () => {
    await thothFront?.close();
    await thoth?.close();
    await registry?.stop();
    await cp?.stop();
  });

  async function namespace(ns: string): Promise<void> {
    await prepareNamespace(cp, ns, { watcher: FUNCTION_RULES, adapter: ADAPTER_RULES });
    const image = await pushTestImage(registry, { repository: `${ns}/app`, tag: 'latest', layerSizes: [256] });
    digests.set(ns, image.digest);
  }

  /** Finished Builds, one after the other as a busy namespace produces them; all share one image. */
  async function finishBuilds(ns: string, names: readonly string[]): Promise<void> {
    for (const name of names) await finishBuild(cp, ns, name, `${registry.host}/${ns}/app:latest`, digests.get(ns) ?? '');
  }

  const submittedIn = (ns: string) => [...submissionsPerBuild(thoth, ns).values()].reduce((sum, count) => sum + count, 0);

  async function allMarked(ns: string, names: readonly string[], onTimeout: () => string): Promise<void> {
    await waitFor(
      async () => {
        const marked = new Set((await listBuilds(cp, ns)).filter((build) => build.metadata.annotations?.[ANNOTATIONS.submittedAt] !== undefined).map((build) => build.metadata.name));
        return names.every((name) => marked.has(name)) ? true : undefined;
      },
      { what: `${names.length} Builds in ${ns} to be marked submitted`, timeoutMs: 90_000, onTimeout },
    );
  }

  async function sweep(url: string): Promise<SweepSummary> {
    const response = await postCloudEvent(url, 'dev.build-watcher.sweep.requested', '{}', { source: '/e2e' });
    const text = await response.text();
    assert.equal(response.status, 200, `the sweep answered ${response.status}: ${text}`);
    return JSON.parse(text) as SweepSummary;
  }

  async function functionFor(ns: string, extra: Readonly<Record<string, string>> = {}): Promise<RunningFunction> {
    const fn = await startFunction({ env: { ...functionEnv(await cp.kubeconfigForServiceAccount(ns, 'watcher'), thothFront.url, ns, LEASE_SECONDS), ...extra } });
    cleanups.push(() => fn.stop());
    return fn;
  }

  async function adapterFor(ns: string, sink: string): Promise<AdapterHandle> {
    const adapter = await cp.startAdapter({
      sink: `${sink}/`,
      resources: [{ apiVersion: 'build.openshift.io/v1', kind: 'Build' }],
      mode: 'Resource',
      kubeconfigPath: await cp.kubeconfigForServiceAccount(ns, 'adapter'),
      namespaces: [ns],
      name: ns,
      namespace: ns,
    });
    cleanups.push(() => adapter.stop());
    return adapter;
  }

  /** One function behind an address the adapter posts to, so that another can take its place. */
  async function functionBehindAddress(ns: string): Promise<{ address: HttpRelay; first: RunningFunction }> {
    const address = await startHttpRelay();
    cleanups.push(() => address.close());
    const first = await functionFor(ns);
    address.setUpstreams([first.url]);
    await adapterFor(ns, address.url);
    return { address, first };
  }

  /**
   * One sweep with nothing failed. A claim whose holder died (`whose`) is taken over within it:
   * the sweep looks again at an object it found busy once the lease it saw has passed.
   */
  async function sweepOnceClaimsExpire(url: string, whose: string): Promise<SweepSummary> {
    const summary = await sweep(url);
    assert.equal(summary.failed, 0, `${whose}: ${JSON.stringify(summary)}`);
    return summary;
  }

  /** kill -9 of the function behind `address`, a new one in its place, and one sweep. */
  async function replaceAfterKill(ns: string, address: HttpRelay, dead: RunningFunction): Promise<{ second: RunningFunction; summary: SweepSummary }> {
    await kill9(dead);
    address.setUpstreams([]);
    const second = await functionFor(ns);
    address.setUpstreams([second.url]);
    return { second, summary: await sweepOnceClaimsExpire(address.url, "the dead holder's claim to expire") };
  }

  /** Stalls Thoth's next submission; the answer waits until that submission is in flight. */
  function stallNextSubmission(onTimeout?: () => string): () => Promise<void> {
    const stalled = () => thoth.requests.filter((request) => request.status === 'stalled').length;
    const before = stalled();
    thoth.stallNext(1);
    return async () => {
      await waitFor(async () => (stalled() > before ? true : undefined), { what: 'a submission in flight', timeoutMs: 60_000, ...(onTimeout ? { onTimeout } : {}) });
    };
  }

  /** Every Build of `ns` submitted exactly once, none of any other name. */
  const assertEachOnce = (ns: string, builds: readonly string[]) =>
    assert.deepEqual(Object.fromEntries(submissionsPerBuild(thoth, ns)), Object.fromEntries(builds.map((name) => [name, 1])));

  /** The counts behind each scenario, in the test report. */
  const report = (t: TestContext, ns: string, extra: Readonly<Record<string, unknown>>) =>
    t.diagnostic(JSON.stringify({ perBuild: Object.fromEntries(submissionsPerBuild(thoth, ns)), ...extra }));
  const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
  const resubmissions = (fn: RunningFunction) => metricTotal(fn.url, /^build_watcher_resubmissions_total\{/);
  const tail = (fn: RunningFunction) => () => fn.lines.slice(-30).join('\n');

  it('function kill -9 after Thoth accepted, before the mark: the one stated duplicate, answered from cache and counted', async (t) => {
    const ns = 'faults-fn-window';
    await namespace(ns);
    const { address, first } = await functionBehindAddress(ns);

    thothFront.withholdNext(1, 202);
    const builds = names('w', 4);
    await finishBuilds(ns, builds);
    await waitFor(async () => (thothFront.withheld() === 1 ? true : undefined), { what: 'an accepted answer withheld from the function', timeoutMs: 60_000, onTimeout: tail(first) });
    const [interrupted] = [...submissionsPerBuild(thoth, ns).keys()];

    const { second, summary } = await replaceAfterKill(ns, address, first);
    await allMarked(ns, builds, tail(second));

    const counts = submissionsPerBuild(thoth, ns);
    assert.deepEqual(Object.fromEntries(counts), Object.fromEntries(builds.map((name) => [name, name === interrupted ? 2 : 1])));
    const [once, again] = thoth.submissions
      .filter((submission) => submission.body?.build_log?.metadata === `${ns}/${interrupted}`)
      .map((submission) => submission.response['output_image_analysis'] as { analysis_id?: string; cached?: boolean } | null);
    assert.equal(again?.cached, true, 'Thoth answered the second submission from its cache');
    assert.equal(again?.analysis_id, once?.analysis_id);
    assert.equal(await resubmissions(second), 1, 'the takeover is counted');
    report(t, ns, { sweep: summary });
  });

  it('function kill -9 while a submission is in flight (Thoth stalled), then a restart and one sweep: 0 lost, 0 twice', async (t) => {
    const ns = 'faults-fn-stall';
    await namespace(ns);
    const { address, first } = await functionBehindAddress(ns);

    const inFlight = stallNextSubmission(tail(first));
    const builds = names('s', 4);
    await finishBuilds(ns, builds);
    await inFlight();
    // One event at a time: while this one waits for Thoth, the adapter sends nothing else, not
    // the other Builds' events, not the updates each renewal of the claim causes.
    const delivered = address.requests();
    const claim = async () => (await listBuilds(cp, ns)).map((build) => build.metadata.annotations?.[ANNOTATIONS.claim]).find((value) => value !== undefined);
    const seen = new Set([await claim()]);
    await waitFor(async () => (seen.add(await claim()).size >= 3 ? true : undefined), { what: 'two renewals of the claim', timeoutMs: 30_000 });
    assert.equal(address.requests(), delivered, 'nothing more was delivered while one event was in flight');

    const { second, summary } = await replaceAfterKill(ns, address, first);
    await allMarked(ns, builds, tail(second));

    assertEachOnce(ns, builds);
    assert.equal(await resubmissions(second), 1, 'the stalled Build was taken over from its dead holder');
    report(t, ns, { sweep: summary, delivered });
  });

  it('command line: watch kill -9 mid-burst; analyze-existing counts the dead claim busy and exits 0; a restarted watch takes it over', async (t) => {
    const ns = 'faults-cli';
    await namespace(ns);
    const env = { KUBECONFIG: await cp.kubeconfigForServiceAccount(ns, 'watcher'), THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1' };
    const cli = (command: string, leaseSeconds: string) => {
      const run = runCli([command, '-n', ns, '-a', thoth.url], { ...env, BUILD_WATCHER_CLAIM_LEASE_SECONDS: leaseSeconds });
      cleanups.push(async () => {
        run.child.kill('SIGKILL');
        await run.exited;
      });
      return run;
    };
    // The killed watch leases for 24 s (renewed every 8): analyze-existing meets its claim alive.
    const killed = cli('watch', '24');
    const builds = names('c', 10);
    await finishBuilds(ns, builds);
    await waitFor(async () => (submittedIn(ns) >= 3 ? true : undefined), { what: 'the burst under way', timeoutMs: 60_000, onTimeout: () => killed.output.stderr });
    await stallNextSubmission(() => killed.output.stderr)();
    killed.child.kill('SIGKILL');
    await killed.exited;
    const unsubmitted = builds.filter((name) => !submissionsPerBuild(thoth, ns).has(name));

    const existing = cli('analyze-existing', LEASE_SECONDS);
    assert.equal(await existing.exited, 0, existing.output.stdout + existing.output.stderr);
    assert.match(existing.output.stdout, new RegExp(`sweep: ${unsubmitted.length - 1} submitted, 1 busy \\(claimed by a live process\\), 0 refused, 0 failed`), existing.output.stdout);

    // Its default resync is 30 minutes away: only retrying the busy object takes it over.
    const restarted = cli('watch', LEASE_SECONDS);
    await allMarked(ns, builds, () => restarted.output.stderr);
    assertEachOnce(ns, builds);
    restarted.child.kill('SIGTERM');
    assert.equal(await restarted.exited, 0);
    report(t, ns, { analyzeExisting: existing.output.stdout.trim() });
  });

  it('2 replicas behind one address: Thoth answering 503 loses nothing; a sweep counts the other replica\'s live claim busy; after that replica\'s kill -9, one sweep: 0 lost, 0 twice', async (t) => {
    const ns = 'faults-replicas';
    await namespace(ns);
    const [a, b] = await Promise.all([functionFor(ns, { HOSTNAME: 'replica-a' }), functionFor(ns, { HOSTNAME: 'replica-b' })]);
    const address = await startHttpRelay([a.url, b.url]);
    cleanups.push(() => address.close());
    await adapterFor(ns, address.url);

    const outage = 12;
    const failedBefore = thoth.requests.filter((request) => request.status === 503).length;
    thoth.failNext(outage, { status: 503 });
    const builds = names('r', 8);
    await finishBuilds(ns, builds);
    await waitFor(async () => (thoth.requests.filter((request) => request.status === 503).length - failedBefore >= outage ? true : undefined), {
      what: `${outage} submissions answered 503`,
      timeoutMs: 90_000,
    });
    const afterOutage = await sweepOnceClaimsExpire(address.url, 'claims left by failed attempts to expire');
    assert.equal(afterOutage.complete, true, JSON.stringify(afterOutage));
    // An object the other replica is working on right now is busy: that replica finishes it.
    await allMarked(ns, builds, () => `${tail(a)()}\n---\n${tail(b)()}`);

    // One replica holds a live claim, its submission stalled; Builds that finish meanwhile wait
    // behind that event in the adapter, so only the other replica's sweep can submit them.
    const inFlight = stallNextSubmission();
    await finishBuilds(ns, ['held']);
    await inFlight();
    const claim = (await listBuilds(cp, ns)).find((build) => build.metadata.name === 'held')?.metadata.annotations?.[ANNOTATIONS.claim] ?? '';
    const [holder, other] = claim.startsWith('replica-a-') ? [a, b] : [b, a];
    const waiting = names('later', 2);
    await finishBuilds(ns, waiting);
    const meanwhile = await sweep(other.url);
    assert.deepEqual(
      { submitted: meanwhile.submitted, busy: meanwhile.busy, failed: meanwhile.failed, complete: meanwhile.complete },
      { submitted: 2, busy: 1, failed: 0, complete: true },
      JSON.stringify(meanwhile),
    );

    await kill9(holder);
    address.setUpstreams([other.url]);
    const afterCrash = await sweepOnceClaimsExpire(other.url, "the dead replica's claim to expire");
    const all = [...builds, 'held', ...waiting];
    await allMarked(ns, all, tail(other));
    assertEachOnce(ns, all);
    report(t, ns, { afterOutage, meanwhile, afterCrash, resubmissions: await resubmissions(other) });
  });

  it('adapter kill -9 mid-burst: a restart replays nothing, one sweep submits the rest, 0 twice; an idle sweep costs one LIST', async (t) => {
    const ns = 'faults-adapter';
    await namespace(ns);
    const fn = await functionFor(ns);
    const adapter = await adapterFor(ns, fn.url);

    const burst = names('d', 8);
    await finishBuilds(ns, burst);
    await waitFor(async () => (submittedIn(ns) >= 2 ? true : undefined), { what: 'the burst under way', timeoutMs: 60_000, onTimeout: tail(fn) });
    for (const running of adapter.processes().filter((p) => p.running())) {
      // The whole group: the watchdog and the adapter binary, as a node failure takes a pod.
      process.kill(-running.pid, 'SIGKILL');
      await running.exited;
    }
    const whileDown = names('e', 3);
    await finishBuilds(ns, whileDown);
    await adapter.restart();
    await finishBuilds(ns, ['f-1']);
    await allMarked(ns, ['f-1'], tail(fn));
    // One event at a time, in order: had the restart sent anything for the Builds that finished
    // while it was down, it would have come before f-1's.
    const counts = submissionsPerBuild(thoth, ns);
    assert.deepEqual(whileDown.map((name) => counts.get(name) ?? 0), [0, 0, 0], 'the restarted adapter sent nothing for them');

    const summary = await sweepOnceClaimsExpire(fn.url, 'no claim in progress');
    const all = [...burst, ...whileDown, 'f-1'];
    await allMarked(ns, all, tail(fn));
    assertEachOnce(ns, all);

    // An idle sweep: one LIST page of Builds, and not one GET or PATCH of a Build. Counted at the
    // API server, so it is measured alone: the other scenarios' processes are stopped, and so
    // are this adapter and this function (the adapter still delivers the echoes of the marks,
    // and each costs a GET); a fresh replica sweeps.
    await adapter.stop();
    await fn.stop();
    const sweeper = await functionFor(ns);
    const requests = async () => {
      const text = (await cp.admin.send({ path: '/metrics' })).text;
      const count = (verb: string) =>
        text
          .split('\n')
          .filter((line) => line.startsWith('apiserver_request_total{') && line.includes('resource="builds"') && line.includes('subresource=""') && line.includes(`verb="${verb}"`))
          .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
      return { list: count('LIST'), get: count('GET'), patch: count('PATCH') };
    };
    const before = await requests();
    const idle = await sweep(sweeper.url);
    const spent = await requests();
    assert.equal(idle.picked, 0);
    assert.deepEqual({ list: spent.list - before.list, get: spent.get - before.get, patch: spent.patch - before.patch }, { list: 1, get: 0, patch: 0 });
    report(t, ns, { sweep: summary, idle });
  });
});
