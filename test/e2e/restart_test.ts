/**
 * The API server's restart: kube-apiserver and etcd killed (-9) mid-burst and started again with
 * their data, ports and certificates, under the real ApiServerSource adapter posting straight to
 * the function (the direct-sink variant). The front cuts the adapter's watch. The events it had
 * already received are still sent, one at a time: those sent while the API server is down fail
 * at the function (it can neither read nor mark the Build) and are dropped after the adapter's
 * attempts. Once back, it lists again and watches from there, and a list sends nothing: a Build
 * that finished before its new watch gets no event. One sweep repairs all that.
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

  /**
   * Finishes `live-1`, `live-2`, … one at a time, each given a while to be submitted, until one
   * is: with no sweep run yet, only the adapter can have sent it, so it is back and delivering.
   * (A watch it resumes at a resourceVersion from before the restart is accepted and then ended
   * at once, "too old", so an established watch alone proves little; a Build finished meanwhile
   * gets no event, and is left to the sweep like the others.)
   */
  async function finishUntilDelivered(ns: string, onTimeout: () => string): Promise<string[]> {
    const live: string[] = [];
    let lastMs = 0;
    await waitFor(
      async () => {
        const counts = bench.submissionsPerBuild(ns);
        if (live.some((name) => counts.has(name))) return true;
        if (Date.now() - lastMs >= 20_000) {
          const name = `live-${live.length + 1}`;
          live.push(name);
          await bench.finishBuilds(ns, [name]);
          lastMs = Date.now();
        }
        return undefined;
      },
      { what: 'a Build finished after the restart to be delivered', timeoutMs: 180_000, onTimeout },
    );
    return live;
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
    // It reconnects on its own: the front cut its watches when kube-apiserver died.
    await adapter.watchesEstablished(killedMs, 180_000);
    const live = await finishUntilDelivered(ns, () => `${tail(fn)()}\n--- adapter\n${adapter.logTail()}`);
    const beforeSweep = Object.fromEntries(bench.submissionsPerBuild(ns));

    await waitFor(claimsExpired(ns), { what: 'every claim left on a Build to expire', timeoutMs: 60_000 });
    const summary = await bench.sweep(fn.url);
    assert.equal(summary.failed, 0, JSON.stringify(summary));
    const all = [...burst, ...afterRestart, ...live];
    await bench.allMarked(ns, all, tail(fn));
    bench.assertEachOnce(ns, all);
    bench.report(t, ns, { beforeKill, live, beforeSweep, sweep: summary });
  });
});
