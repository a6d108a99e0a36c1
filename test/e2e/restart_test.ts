/**
 * The API server's restart: kube-apiserver and etcd killed (-9) mid-burst and started again with
 * their data, ports and certificates, under the real ApiServerSource adapter posting straight to
 * the function (the direct-sink variant). While they are down, the adapter's watch is cut and
 * the events it still had in hand fail at the function (it cannot read or mark a Build) until the
 * adapter drops them; once it has reconnected it resumes from the present, so nothing it missed
 * meanwhile is ever sent. One sweep repairs that.
 *
 * Counted at the Thoth stand-in, by the build log's `namespace/name`: every Build once.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { waitFor } from '../harness/wait.js';
import { FaultBench, LEASE_SECONDS, names, tail } from './fault-bench.js';

describe('restart of the API server and etcd: nothing lost, nothing submitted twice', { timeout: 600_000 }, () => {
  let bench: FaultBench;

  before(async () => {
    bench = await FaultBench.start();
  });

  afterEach(() => bench.cleanup());

  after(() => bench?.close());

  /**
   * A check that holds once every claim on a Build of `ns` has stood unchanged for longer than a
   * lease: no holder renews it, so it has expired, whatever its holder and format. (The value is
   * compared, never parsed.)
   */
  function claimsExpired(ns: string): () => Promise<true | undefined> {
    const leaseMs = Number(LEASE_SECONDS) * 1_000;
    const seen = new Map<string, { value: string; sinceMs: number }>();
    return async () => {
      const now = Date.now();
      let expired = true;
      for (const build of await bench.listBuilds(ns)) {
        const value = build.metadata.annotations?.[ANNOTATIONS.claim];
        const last = seen.get(build.metadata.name);
        if (value === undefined) {
          seen.delete(build.metadata.name);
        } else if (last?.value !== value) {
          seen.set(build.metadata.name, { value, sinceMs: now });
          expired = false;
        } else if (now - last.sinceMs <= leaseMs + 1_000) {
          expired = false;
        }
      }
      return expired ? true : undefined;
    };
  }

  it('kube-apiserver and etcd kill -9 mid-burst, restarted with their data: the adapter reconnects, one sweep submits what it never sent; 0 lost, 0 twice', async (t) => {
    const ns = 'restart';
    const { cp } = bench;
    await bench.namespace(ns);
    const fn = await bench.functionFor(ns);
    const adapter = await bench.adapterFor(ns, fn.url);

    const burst = names('b', 8);
    await bench.finishBuilds(ns, burst);
    await waitFor(async () => (bench.submittedIn(ns) >= 2 ? true : undefined), { what: 'the burst under way', timeoutMs: 60_000, onTimeout: tail(fn) });
    await Promise.all([cp.kill('kube-apiserver'), cp.kill('etcd')]);
    const killedMs = Date.now();
    const beforeKill = bench.submittedIn(ns);
    await cp.restart('etcd');
    await cp.restart('kube-apiserver');

    // At once, maybe before the adapter is back: whatever it misses, only the sweep will find.
    const afterRestart = names('a', 3);
    await bench.finishBuilds(ns, afterRestart);
    // It reconnects on its own (the front cut its watches when kube-apiserver died), within its
    // backoff of at most 30 s, however long the restart took.
    await adapter.watchesEstablished(killedMs, 120_000);
    await bench.finishBuilds(ns, ['live-1']);
    await bench.allMarked(ns, ['live-1'], () => `${tail(fn)()}\n--- adapter\n${adapter.logTail()}`);
    const beforeSweep = Object.fromEntries(bench.submissionsPerBuild(ns));

    await waitFor(claimsExpired(ns), { what: 'every claim left on a Build to expire', timeoutMs: 60_000 });
    const summary = await bench.sweep(fn.url);
    assert.equal(summary.failed, 0, JSON.stringify(summary));
    const all = [...burst, ...afterRestart, 'live-1'];
    await bench.allMarked(ns, all, tail(fn));
    bench.assertEachOnce(ns, all);
    bench.report(t, ns, { beforeKill, beforeSweep, sweep: summary });
  });
});
