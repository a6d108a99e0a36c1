/**
 * `npm run bench:sweep`: recovery after an outage. 1,000 and 10,000 Builds that finished while nothing watched them
 * (created directly completed on the real local control plane; no adapter), then sweeps posted to the function until
 * every one is submitted to the Thoth stand-in; then one idle sweep over them all. Per case: the time until all are
 * submitted, each sweep's duration, LISTs and GETs of Builds, and what it handed off. Two ways:
 * - `in process`: no K_SINK (the direct-sink variant, the command line): the sweep works on everything itself;
 * - `hand-off ×R`: K_SINK is a Broker stand-in on 127.0.0.1 that answers 202 at once and delivers each
 *   dev.build-watcher.object.pending to one of R function replicas, 16 at a time, redelivering a non-2xx after 1 s, as
 *   the Broker with `messaging.knative.dev/async-handler` does; NOT real Knative Eventing;
 * - `eventing`: the default install on real Knative Eventing (test/e2e/default-install.ts, the Broker as shipped on
 *   this branch) with its adapter stopped, K_SINK the Broker's ingress (through test/e2e/broker-relay.ts), the shipped
 *   Trigger delivering object.pending back to one function.
 * The function runs as deployed: compiled (`npm run build` first), reading its service account as in a pod, with the
 * shipped 4 workers and batch 200. A benchmark, not a test: it prints numbers and asserts nothing.
 * BENCH_SWEEP_BUILDS (comma-separated counts) and BENCH_SWEEP_WAYS (`in-process`, `hand-off`, `hand-off-3`, `eventing`) shrink it.
 */
import { readFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { loadavg } from 'node:os';
import path from 'node:path';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { waitFor } from '../harness/wait.js';
import { startFunction } from '../function/run-function.js';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { clusterRegistryStream } from '../e2e/cluster.js';
import { loadManifests } from '../harness/apply.js';
import { startEventing } from '../harness/eventing.js';
import { relayToBroker } from '../e2e/broker-relay.js';
import { deployDefaultInstall } from '../e2e/default-install.js';

const NAMESPACE = 'build-watcher';
const COUNTS = (process.env['BENCH_SWEEP_BUILDS'] ?? '1000,10000').split(',').map(Number);
const WAYS = (process.env['BENCH_SWEEP_WAYS'] ?? 'in-process,hand-off,hand-off-3').split(',');
const WRITERS = 16;
const BROKER_PARALLEL = 16;
const BUILDS = `/apis/build.openshift.io/v1/namespaces/${NAMESPACE}/builds`;
const KNATIVE = path.resolve(import.meta.dirname, '../../knative');

interface SweepRow { seconds: number; lists: number; gets: number; submitted: number; handedOff: number; failed: number; busy: number; complete: boolean }

/** The Broker's part, played on loopback: accept at once, deliver in parallel, redeliver what failed. */
async function brokerStandIn(targets: () => readonly string[]) {
  const queue: { body: string; headers: Record<string, string> }[] = [];
  let inFlight = 0;
  let delivered = 0;
  let redelivered = 0;
  let next = 0;
  const deliver = (event: { body: string; headers: Record<string, string> }): void => {
    const urls = targets();
    const url = new URL(urls[next++ % urls.length] ?? '');
    inFlight++;
    const done = (ok: boolean): void => {
      inFlight--;
      if (ok) delivered++;
      else {
        redelivered++;
        setTimeout(() => { queue.push(event); pump(); }, 1_000);
      }
      pump();
    };
    const req = request({ host: url.hostname, port: Number(url.port), method: 'POST', path: '/', headers: event.headers }, (res) => {
      res.resume();
      res.on('end', () => done((res.statusCode ?? 500) < 300));
    });
    req.on('error', () => done(false));
    req.end(event.body);
  };
  const pump = (): void => {
    while (inFlight < BROKER_PARALLEL && queue.length > 0) deliver(queue.shift() as { body: string; headers: Record<string, string> });
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(202).end();
      if (req.headers['ce-type'] !== 'dev.build-watcher.object.pending') return;
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string' && (key.startsWith('ce-') || key === 'content-type')) headers[key] = value;
      queue.push({ body: Buffer.concat(chunks).toString('utf8'), headers });
      pump();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    counts: () => ({ delivered, redelivered }),
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

async function createCompletedBuilds(cp: ControlPlane, count: number, image: string, digest: string): Promise<void> {
  let next = 0;
  const writer = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const name = `stranded-${i}`;
      const created = (await cp.admin.json({ method: 'POST', path: BUILDS, body: {
        apiVersion: 'build.openshift.io/v1', kind: 'Build', metadata: { name, namespace: NAMESPACE },
        spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } } },
      } })) as Record<string, unknown>;
      cp.setBuildLog(NAMESPACE, name, `built ${name}\n`);
      await cp.admin.json({ method: 'PUT', path: `${BUILDS}/${name}`, body: { ...created, status: { phase: 'Complete', outputDockerImageReference: image, output: { to: { imageDigest: digest } } } } });
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, writer));
}

async function sweepOnce(cp: ControlPlane, token: string, url: string): Promise<SweepRow> {
  const before = cp.apiCallsWith(token).length;
  const started = Date.now();
  const response = await fetch(url, { method: 'POST', headers: { 'ce-specversion': '1.0', 'ce-id': `bench-${started}`, 'ce-source': '/bench', 'ce-type': 'dev.build-watcher.sweep.requested', 'content-type': 'application/json' }, body: '{}' });
  const text = await response.text();
  const seconds = (Date.now() - started) / 1000;
  if (response.status !== 200) throw new Error(`sweep answered ${response.status}: ${text}`);
  const summary = JSON.parse(text) as Omit<SweepRow, 'seconds' | 'lists' | 'gets'>;
  const calls = cp.apiCallsWith(token).slice(before);
  // Only the sweep's own requests are counted here: the hand-off's deliveries run later, in other requests.
  const lists = calls.filter((call) => call.split('?')[0] === `GET ${BUILDS}`).length;
  const gets = calls.filter((call) => /^GET \/apis\/build\.openshift\.io\/v1\/namespaces\/[^/]+\/builds\/[^/?]+$/.test(call.split('?')[0] ?? '')).length;
  return { seconds, lists, gets, submitted: summary.submitted, handedOff: summary.handedOff, failed: summary.failed, busy: summary.busy, complete: summary.complete };
}

interface Setup { readonly sweeper: string; readonly token: string; close(): Promise<void> }

/** The function(s) and their token: started here for the in-process and stand-in ways, or the default install on real Eventing. */
async function setUp(cp: ControlPlane, way: string, thothUrl: string, registryHost: string): Promise<Setup> {
  const settings = { THOTH_BUILD_WATCHER_WORKERS: '4', BUILD_WATCHER_SWEEP_BATCH: '200' };
  if (way === 'eventing') {
    const eventing = await startEventing(cp);
    const relay = await relayToBroker(eventing);
    const install = await deployDefaultInstall(cp, eventing, thothUrl, { deployedFunction: true, functionEnv: { ...settings, K_SINK: relay.url } });
    await install.adapter.stop();
    await clusterRegistryStream(cp, registryHost, NAMESPACE, 'app');
    return { sweeper: install.fn.url, token: install.functionToken, close: async () => { await install.stop(); await relay.close(); await eventing.stop(); } };
  }
  const replicas = way === 'in-process' ? 1 : Number(way.split('-')[2] ?? 1);
  const functions: Awaited<ReturnType<typeof startFunction>>[] = [];
  const broker = way === 'in-process' ? undefined : await brokerStandIn(() => functions.map((fn) => fn.url));
  await cp.applyManifests([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } }]);
  await cp.applyManifests(await loadManifests(path.join(KNATIVE, 'rbac-function.yaml')));
  await clusterRegistryStream(cp, registryHost, NAMESPACE, 'app');
  const account = await cp.serviceAccountDirectory(NAMESPACE, 'build-watcher-function');
  const env = { ...cp.inClusterEnv, THOTH_USER_API_HOST: thothUrl, THOTH_WATCHED_NAMESPACE: NAMESPACE, THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1', ...settings,
    ...(broker ? { K_SINK: broker.url } : {}) };
  for (let i = 0; i < replicas; i++) functions.push(await startFunction({ env, compiled: true, pod: { serviceAccount: account } }));
  return {
    sweeper: functions[0]?.url ?? '',
    token: await readFile(path.join(account, 'token'), 'utf8'),
    close: async () => {
      await Promise.all(functions.map((fn) => fn.stop()));
      await broker?.close();
    },
  };
}

async function runCase(count: number, way: string, registryHost: string, digest: string): Promise<void> {
  const thoth = await ThothStub.start();
  const cp = await startControlPlane();
  try {
    const { sweeper, token, close } = await setUp(cp, way, thoth.url, registryHost);
    try {
      const created = Date.now();
      await createCompletedBuilds(cp, count, `${registryHost}/${NAMESPACE}/app:latest`, digest);
      console.log(`  ${count} Builds created completed in ${((Date.now() - created) / 1000).toFixed(1)} s`);
      const started = Date.now();
      const sweeps: SweepRow[] = [];
      // As the schedule would, though back to back: a sweep starts once the one before answered and what it handed off is done.
      while (thoth.submissions.length < count) {
        const row = await sweepOnce(cp, token, sweeper);
        sweeps.push(row);
        if (row.handedOff > 0) {
          await waitFor(async () => (thoth.submissions.length >= count ? true : undefined), { what: 'the handed-off objects', timeoutMs: 3_600_000, intervalMs: 100 });
        }
        if (sweeps.length > 100) throw new Error('more than 100 sweeps');
      }
      const allSeconds = (Date.now() - started) / 1000;
      const idle = await sweepOnce(cp, token, sweeper);
      const list = (await cp.admin.json({ path: BUILDS })) as { items: { metadata: { annotations?: Record<string, string> } }[] };
      const marked = list.items.filter((b) => b.metadata.annotations?.['build-watcher.thoth-station.ninja/submitted-at'] !== undefined).length;
      console.log(`  ${way}: all ${count} submitted ${allSeconds.toFixed(1)} s after the first sweep started (${(count / allSeconds).toFixed(1)} Builds/s), ` +
        `in ${sweeps.length} sweep(s); ${thoth.submissions.length - marked} duplicated, ${count - marked} lost`);
      for (const [i, row] of sweeps.entries()) {
        console.log(`    #${i + 1} answered in ${row.seconds.toFixed(1)} s: ${row.lists} LISTs, ${row.gets} GETs meanwhile, ${row.submitted} submitted, ` +
          `${row.handedOff} handed off, ${row.failed} failed, ${row.busy} busy${row.complete ? '' : ', incomplete'}`);
      }
      console.log(`    idle sweep over ${count}: ${idle.seconds.toFixed(2)} s, ${idle.lists} LISTs, ${idle.gets} GETs, ${idle.submitted} submitted`);
    } finally {
      await close();
    }
  } finally {
    await cp.stop();
    await thoth.close();
  }
}

const loadAverage = (): string => loadavg().map((value) => value.toFixed(1)).join(' ');

async function main(): Promise<void> {
  console.log(`load average at the start: ${loadAverage()}`);
  const registry = await startRegistry();
  try {
    const { digest } = await pushTestImage(registry, { repository: `${NAMESPACE}/app`, tag: 'latest', layerSizes: [1024] });
    for (const count of COUNTS) {
      for (const way of WAYS) {
        console.log(`${count} stranded Builds, ${way} (a fresh control plane):`);
        await runCase(count, way, registry.host, digest);
      }
    }
  } finally {
    await registry.stop();
    console.log(`load average at the end: ${loadAverage()}`);
  }
}

await main();
