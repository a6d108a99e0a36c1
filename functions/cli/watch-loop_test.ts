import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCluster, memoryLogger } from '../../test/fakes/in-memory-cluster.js';
import { transient } from '../errors.js';
import { KubeApiError } from '../kube/api.js';
import type { KubeConnection } from '../kube/api.js';
import { apiPath } from '../kube/object.js';
import { watchCollection, WatchFatalError } from './watch-loop.js';

const NS = 'ns';
const collection = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS };
const object = (name: string, resourceVersion: string) => ({
  apiVersion: 'build.openshift.io/v1',
  kind: 'Build',
  metadata: { name, namespace: NS, uid: `uid-${name}`, resourceVersion },
});
const line = (type: string, value: unknown) => JSON.stringify({ type, object: value });

type Step = string[] | Error;

/** Serves scripted watch streams, one per open(); aborts the loop when the script runs out. */
function scripted(steps: Step[], stop: AbortController) {
  const opened: Record<string, string>[] = [];
  const streaming: Pick<KubeConnection, 'stream'> = {
    async stream(path, query) {
      assert.equal(path, apiPath(collection));
      opened.push({ ...query });
      const step = steps.shift();
      if (step === undefined) {
        stop.abort();
        throw transient('script over');
      }
      if (step instanceof Error) throw step;
      return (async function* lines() {
        yield* step;
      })();
    },
  };
  return { streaming, opened };
}

async function run(steps: Step[], cluster = new MemoryCluster(), resourceVersion?: string, resyncMs?: number) {
  const stop = new AbortController();
  const { streaming, opened } = scripted(steps, stop);
  const handled: string[] = [];
  const log = memoryLogger();
  await watchCollection(cluster, streaming, collection, (o, action, origin) => handled.push(`${origin}:${action}:${o.name}`), log, {
    signal: stop.signal,
    timeoutSeconds: () => 7,
    initialBackoffMs: 1,
    ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    ...(resyncMs !== undefined ? { resyncMs } : {}),
  });
  return { handled, opened, log, cluster };
}

describe('the command line watch loop', () => {
  it('lists, watches from the list\'s version, and resumes where the server ended the watch', async () => {
    const cluster = new MemoryCluster();
    cluster.put(object('old', '1'));
    const { handled, opened } = await run(
      [
        [line('ADDED', object('a', '201')), line('MODIFIED', object('a', '202'))],
        [line('BOOKMARK', { kind: 'Build', apiVersion: 'build.openshift.io/v1', metadata: { resourceVersion: '250' } })],
        [line('DELETED', object('a', '260'))],
      ],
      cluster,
    );
    assert.deepEqual(handled, ['list:add:old', 'watch:add:a', 'watch:update:a', 'watch:delete:a']);
    const listVersion = opened[0]?.['resourceVersion'];
    assert.ok(listVersion !== undefined && listVersion !== '');
    assert.deepEqual(opened.map((query) => query['resourceVersion']), [listVersion, '202', '250', '260']);
    assert.ok(opened.every((query) => query['watch'] === 'true' && query['allowWatchBookmarks'] === 'true' && query['timeoutSeconds'] === '7'));
    assert.equal(cluster.pageRequests.length, 1, 'listed once: closed watches resume, they do not relist');
  });

  it('lists again on "too old resource version", as an ERROR event or an HTTP 410', async () => {
    const cluster = new MemoryCluster();
    cluster.put(object('old', '1'));
    const tooOld = line('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version: 1 (300)' });
    const { handled, log } = await run([[tooOld], new KubeApiError(410, 'watch', 'Expired'), []], cluster, '1');
    assert.deepEqual(handled, ['list:add:old', 'list:add:old']);
    assert.equal(cluster.pageRequests.length, 2);
    assert.equal(log.lines.filter((entry) => /too old; listing again/.test(entry.message)).length, 2);
  });

  it('backs off and resumes at the same version when the connection fails; never gives up on transient trouble', async () => {
    const { opened, log } = await run([transient('ECONNRESET'), transient('ECONNREFUSED'), [line('ADDED', object('b', '301'))]], new MemoryCluster(), '300');
    assert.deepEqual(opened.map((query) => query['resourceVersion']), ['300', '300', '300', '301']);
    assert.equal(log.lines.filter((entry) => entry.level === 'warn' && /interrupted/.test(entry.message)).length, 2);
  });

  it('lists again once the resync interval has passed, ending each watch in time for it', async () => {
    const cluster = new MemoryCluster();
    cluster.put(object('old', '1'));
    const far = await run([[line('ADDED', object('a', '201'))], [line('MODIFIED', object('a', '202'))]], cluster, undefined, 3000);
    assert.ok(far.opened.every((query) => query['timeoutSeconds'] === '3'), 'the watch ends when the resync is due, not later');
    assert.equal(far.cluster.pageRequests.length, 1, 'no resync before it is due');
    const listedBefore = cluster.pageRequests.length;

    const due = await run([[line('ADDED', object('a', '201'))], [line('MODIFIED', object('a', '202'))]], cluster, undefined, 0);
    assert.deepEqual(due.handled, ['list:add:old', 'watch:add:a', 'list:add:old', 'watch:update:a', 'list:add:old']);
    assert.equal(cluster.pageRequests.length - listedBefore, 3, 'listed before every watch');
    assert.equal(due.log.lines.filter((entry) => /resync: listing Build in ns again/.test(entry.message)).length, 2);
  });

  it('logs, at debug level, a watched object it cannot read, and goes on', async () => {
    const unreadable = { apiVersion: 'build.openshift.io/v1', kind: 'Build', metadata: { namespace: NS, resourceVersion: '301' } };
    const { handled, log, opened } = await run([[line('ADDED', unreadable), line('MODIFIED', 'garbage'), line('ADDED', object('b', '302'))]], new MemoryCluster(), '300');
    assert.deepEqual(handled, ['watch:add:b']);
    const skipped = log.lines.filter((entry) => entry.level === 'debug' && /skipped an unreadable Build/.test(entry.message));
    assert.equal(skipped.length, 2, JSON.stringify(log.lines));
    assert.match(skipped[0]?.message ?? '', /metadata/, 'says what is wrong with it');
    assert.deepEqual(opened.map((query) => query['resourceVersion']), ['300', '302']);
  });

  it('stops with an error that says why when retrying cannot help', async () => {
    await assert.rejects(run([new KubeApiError(403, 'watch', 'Forbidden')], new MemoryCluster(), '5'), WatchFatalError);
    const cluster = new MemoryCluster();
    cluster.listStatus.set('build.openshift.io/v1/Build', 404);
    await assert.rejects(run([], cluster), /CRD installed/);
  });
});
