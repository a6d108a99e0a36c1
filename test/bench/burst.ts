/**
 * `npm run bench:burst`: 1,000 Builds completed as fast as the API server accepts them, through
 * the default install (ApiServerSource → Broker → Trigger → function, real Knative Eventing) and
 * through the direct-sink variant (ApiServerSource → function), each on a fresh control plane, in
 * one run. Reports, per path: time until all are submitted (from the first Build's creation and
 * from the last one's completion), events/s, the function's memory (resident after start-up and
 * at its peak, with V8's heap and external memory at the peak sample), the Kubernetes API calls
 * it made per submitted Build, the most submissions in flight at Thoth at once, and lost and
 * duplicated submissions; then the ratio of the two paths. The function runs as deployed: the
 * compiled one (`npm run build` runs first), reading its service account as in a pod; the
 * harness runs through tsx.
 * The Broker path runs once per THOTH_BUILD_WATCHER_WORKERS in BENCH_WORKERS (default 1, 4 and 16),
 * the direct path once with the shipped 4. Also reported: the mean submissions in flight at Thoth
 * (over the time from the first submission to the last answer), the most deliveries waiting for a
 * worker in the function (sampled each second) and the deliveries it answered 503 at once.
 * Where the time goes, from the cluster proxy's record of every hop (eventing.hops, with the time
 * each request arrived and its answer's head came back): the events the adapter sent (per Build,
 * per second, how long after its Build's completion each Complete event left it, how long its
 * sink took to answer, and its own time between an answer and its next send: it sends one event
 * at a time), the channel's answer to the ingress, the delivery from the adapter's send and from
 * the dispatcher to the function, the function's answer, and the CPU time of every process and
 * of the harness itself (which runs the cluster proxy and the API front) with its event-loop delay.
 * A benchmark, not a test: it prints numbers, it asserts nothing. BENCH_BUILDS changes the count,
 * BENCH_BURST_PATHS (`broker`, `direct`, or both, comma-separated) the paths, BENCH_QUEUE_LIMIT
 * the function's BUILD_WATCHER_QUEUE_LIMIT (default: its own).
 */
import { readdir, readFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { startControlPlane } from '../harness/controlplane.js';
import { startEventing } from '../harness/eventing.js';
import type { ProxiedRequest } from '../harness/cluster-proxy.js';
import { waitFor } from '../harness/wait.js';
import { metricTotal, startFunction } from '../function/run-function.js';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import type { RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { clusterRegistryStream } from '../e2e/cluster.js';
import { deployDefaultInstall, NAMESPACE } from '../e2e/default-install.js';

const ECHO = fileURLToPath(new URL('../../build/test/bench/echo-function.js', import.meta.url));
const BUILDS = Number(process.env['BENCH_BUILDS'] ?? 1_000);
const PATHS = (process.env['BENCH_BURST_PATHS'] ?? 'broker,direct').split(',');
const WORKER_COUNTS = (process.env['BENCH_WORKERS'] ?? '1,4,16').split(',').map(Number);
const QUEUE_LIMIT = process.env['BENCH_QUEUE_LIMIT'];
/** knative/base/config.yaml's value. */
const SHIPPED_WORKERS = 4;
/** Clients creating and completing Builds at once: enough to keep the API server busy. */
const WRITERS = 16;
const PATH = `/apis/build.openshift.io/v1/namespaces/${NAMESPACE}/builds`;
const SUBMITTED_AT = 'build-watcher.thoth-station.ninja/submitted-at';

interface PathResult {
  name: string;
  burstSeconds: number;
  allSubmittedSeconds: number;
  afterLastCompletionSeconds: number;
  submitted: number;
  duplicated: number;
  lost: number;
  memory: MemoryReport;
  /** API calls the function made, by `VERB resource`, over the whole burst. */
  apiCalls: Map<string, number>;
  peakInFlight: number;
  meanInFlight: number;
  /** The most live deliveries waiting for a worker at one of the samples. */
  peakWaiting: number;
  /** Deliveries answered 503 at once: no worker free and the queue full, or no worker within half the deadline. */
  turnedAway: number;
  /** The function's CPU time (user + system) from the first Build's creation until all were submitted. */
  functionCpuSeconds: number;
  /** The machine's 1-minute load average when all were submitted. */
  load: number;
  hops: HopReport;
  /** CPU seconds from the first Build's creation until all were submitted, by process name. */
  cpu: Map<string, number>;
  /** The harness process's event-loop delay over the burst, ms. */
  loopDelay: { p99: number; max: number };
}

/** Milliseconds: the 50th and 99th percentiles and the largest. */
interface Spread {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

interface HopReport {
  /** Hops through the cluster proxy during the burst, by the component asked. */
  byComponent: Map<string, number>;
  adapterEvents: number;
  /** From the adapter's first send to its last, s. */
  adapterSpanSeconds: number;
  /** How long the adapter's sink (the ingress, or the function on the direct path) took to answer it. */
  sinkAnswer: Spread;
  /** The sum of the sink's answer times, s: the adapter waits for each before its next send. */
  adapterWaitingSeconds: number;
  /** The adapter's own time per event: from an answer to its next send. */
  adapterGap: Spread;
  /** From a Build's completion (the PUT answered) until the adapter sent its Complete event. */
  completeLag: Spread;
  /** When the adapter sent the last Complete event, s after the last completion. */
  lastCompleteSentSeconds: number;
  /** How long the dispatcher took to answer the ingress (Broker path). */
  channelAnswer: Spread;
  /** From the adapter's send to the function's receipt of the same event. */
  adapterToFunction: Spread;
  /** From the ingress's send to the channel until the function's receipt (Broker path). */
  dispatcherToFunction: Spread;
  /** The function's answers: to every event, and to the Complete events. */
  functionAnswer: Spread;
  functionAnswerComplete: Spread;
  /** The function's last answer, s after the last completion. */
  lastFunctionAnswerSeconds: number;
}

function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}

const APISERVER_EVENT = 'dev.knative.apiserver.resource.';
const FUNCTION_HOST = `build-watcher.${NAMESPACE}.`;

function componentOf(hop: ProxiedRequest): string {
  if (hop.host.startsWith('broker-ingress.')) return 'ingress';
  if (hop.host.includes('-kn-channel.')) return 'channel';
  if (hop.host.startsWith('broker-filter.')) return 'filter';
  if (hop.host.startsWith(FUNCTION_HOST)) return 'function';
  return hop.host;
}

/**
 * Where the time went, from the hops of the burst. `completedAt`: each Build's completion
 * (performance.now() when its PUT was answered); `lastCompleted` the latest of them.
 */
function hopReport(hops: readonly ProxiedRequest[], sink: 'broker' | 'direct', completedAt: ReadonlyMap<string, number>, lastCompleted: number): HopReport {
  const byComponent = new Map<string, number>();
  for (const hop of hops) byComponent.set(componentOf(hop), (byComponent.get(componentOf(hop)) ?? 0) + 1);
  const answered = (hop: ProxiedRequest): boolean => hop.answeredAt > 0;
  const took = (hop: ProxiedRequest): number => hop.answeredAt - hop.sentAt;
  const ofApiServer = (hop: ProxiedRequest): boolean => hop.attributes['type']?.startsWith(APISERVER_EVENT) === true;
  const first = sink === 'broker' ? 'ingress' : 'function';
  const adapter = hops.filter((hop) => ofApiServer(hop) && componentOf(hop) === first).sort((a, b) => a.sentAt - b.sentAt);
  const gaps = adapter.slice(1).flatMap((hop, i) => {
    const before = adapter[i];
    return before !== undefined && answered(before) ? [hop.sentAt - before.answeredAt] : [];
  });
  // A Build's Complete event: the adapter's first update event for it (the writer's PUT; the function acts only then).
  const complete = new Map<string, ProxiedRequest>();
  for (const hop of adapter) {
    const name = hop.attributes['name'] ?? '';
    if (hop.attributes['type'] === `${APISERVER_EVENT}update` && completedAt.has(name) && !complete.has(name)) complete.set(name, hop);
  }
  const completeIds = new Set([...complete.values()].map((hop) => hop.attributes['id']));
  const firstOf = (component: string): Map<string, ProxiedRequest> => {
    const found = new Map<string, ProxiedRequest>();
    for (const hop of hops) {
      const id = hop.attributes['id'];
      if (id !== undefined && ofApiServer(hop) && componentOf(hop) === component && !found.has(id)) found.set(id, hop);
    }
    return found;
  };
  const atFunction = firstOf('function');
  const atChannel = firstOf('channel');
  const delay = (from: ReadonlyMap<string, ProxiedRequest>): number[] =>
    [...from].flatMap(([id, hop]) => {
      const arrived = atFunction.get(id);
      return arrived === undefined ? [] : [arrived.sentAt - hop.sentAt];
    });
  const functionHops = hops.filter((hop) => ofApiServer(hop) && componentOf(hop) === 'function' && answered(hop));
  const firstSent = adapter[0]?.sentAt ?? 0;
  return {
    byComponent,
    adapterEvents: adapter.length,
    adapterSpanSeconds: ((adapter.at(-1)?.sentAt ?? firstSent) - firstSent) / 1000,
    sinkAnswer: spread(adapter.filter(answered).map(took)),
    adapterWaitingSeconds: adapter.filter(answered).reduce((sum, hop) => sum + took(hop), 0) / 1000,
    adapterGap: spread(gaps),
    completeLag: spread([...complete].map(([name, hop]) => hop.sentAt - (completedAt.get(name) ?? hop.sentAt))),
    lastCompleteSentSeconds: (Math.max(...[...complete.values()].map((hop) => hop.sentAt)) - lastCompleted) / 1000,
    channelAnswer: spread(hops.filter((hop) => ofApiServer(hop) && componentOf(hop) === 'channel' && answered(hop)).map(took)),
    adapterToFunction: spread(delay(new Map(adapter.map((hop) => [hop.attributes['id'] ?? '', hop])))),
    dispatcherToFunction: spread(delay(atChannel)),
    functionAnswer: spread(functionHops.map(took)),
    functionAnswerComplete: spread(functionHops.filter((hop) => completeIds.has(hop.attributes['id'])).map(took)),
    lastFunctionAnswerSeconds: (Math.max(...functionHops.map((hop) => hop.answeredAt)) - lastCompleted) / 1000,
  };
}

/**
 * CPU seconds (user + system) so far of every process in the groups of `leaders` (the harness
 * starts each behind a watchdog shell that leads its group) and of the function, by process
 * name (/proc/<pid>/stat).
 */
async function cpuByName(leaders: readonly number[], functionPid: number): Promise<Map<string, number>> {
  const groups = new Set(leaders);
  const byName = new Map<string, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const isFunction = Number(entry) === functionPid;
    if (!isFunction && !groups.has(Number(fields[2]))) continue;
    const name = isFunction ? 'function (node)' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    byName.set(name, (byName.get(name) ?? 0) + (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100);
  }
  return byName;
}

interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

interface MemoryReport {
  /** VmRSS once ready, before any event: node, faas-js-runtime and the function's imports. */
  readyRssMiB: number;
  /** VmHWM at the end: the true peak, between samples too. */
  peakRssMiB: number;
  /** The /metrics sample with the highest resident size. */
  atPeak: MemorySample;
  samples: number;
}

/** A pass-through in front of Thoth that counts submissions in flight at once. */
async function inFlightCounter(upstream: string): Promise<{ url: string; peak: () => number; mean: () => number; close: () => Promise<void> }> {
  const target = new URL(upstream);
  let current = 0;
  let peak = 0;
  // The time integral of `current`, from the first submission to the latest answer.
  let area = 0;
  let first: number | undefined;
  let last = 0;
  const step = (change: number): void => {
    const now = performance.now();
    first ??= now;
    area += current * (now - (last || now));
    last = now;
    current += change;
  };
  const server: Server = createServer((req, res) => {
    const counted = req.method === 'POST';
    if (counted) {
      step(1);
      peak = Math.max(peak, current);
    }
    let finished = false;
    const done = (): void => {
      if (counted && !finished) step(-1);
      finished = true;
    };
    const forward = request(
      { host: target.hostname, port: Number(target.port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', done);
      },
    );
    forward.on('error', () => {
      done();
      res.destroy();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}`,
    peak: () => peak,
    mean: () => (first === undefined || last === first ? 0 : area / (last - first)),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

const MiB = 1024 * 1024;

/** A process's user + system CPU time so far, from /proc (clock ticks of 10 ms). */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  const stat = await readFile(`/proc/${pid ?? 0}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}

async function procStatusMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid ?? 0}/status`, 'utf8').catch(() => '');
  const kib = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return kib / 1024;
}

/** The function's own gauges (prom-client's default process and nodejs metrics), in MiB. */
async function memorySample(url: string): Promise<MemorySample | undefined> {
  const text = await fetch(`${url}/metrics`).then((res) => res.text()).catch(() => '');
  const gauge = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / MiB;
  const sample = {
    rss: gauge('process_resident_memory_bytes'),
    heapUsed: gauge('nodejs_heap_size_used_bytes'),
    heapTotal: gauge('nodejs_heap_size_total_bytes'),
    external: gauge('nodejs_external_memory_bytes'),
  };
  return Number.isFinite(sample.rss) ? sample : undefined;
}

/** Samples the function's /metrics every second until stopped; keeps the sample of highest RSS. */
function sampleMemory(url: string): { stop: () => Promise<{ atPeak: MemorySample; samples: number; peakWaiting: number }> } {
  let atPeak: MemorySample = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0 };
  let samples = 0;
  let peakWaiting = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const sample = await memorySample(url);
      if (sample !== undefined) {
        samples++;
        if (sample.rss > atPeak.rss) atPeak = sample;
      }
      const waiting = await metricTotal(url, /^build_watcher_waiting_for_worker\{[^}]*priority="live"/).catch(() => 0);
      peakWaiting = Math.max(peakWaiting, waiting);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { atPeak, samples, peakWaiting };
    },
  };
}

/** `GET builds/{name}`, `POST events`…: the verb and the kind of path, names folded. */
function callKind(call: string): string {
  const [verb = '', path = ''] = call.split(' ');
  const parts = path.split('/').filter((part) => part !== '');
  const namespaced = parts.indexOf('namespaces');
  if (namespaced < 0) return `${verb} ${path}`;
  const [resource = '', name, ...sub] = parts.slice(namespaced + 2);
  return `${verb} ${resource}${name === undefined ? '' : '/{name}'}${sub.length > 0 ? `/${sub.join('/')}` : ''}`;
}

function countCalls(calls: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const call of calls) counts.set(callKind(call), (counts.get(callKind(call)) ?? 0) + 1);
  return counts;
}

async function runPath(name: string, sink: 'broker' | 'direct', workers: number, registry: RunningRegistry, digest: string): Promise<PathResult> {
  const thoth = await ThothStub.start();
  const counter = await inFlightCounter(thoth.url);
  const cp = await startControlPlane();
  try {
    const eventing = await startEventing(cp);
    try {
      const functionEnv = { THOTH_BUILD_WATCHER_WORKERS: String(workers), ...(QUEUE_LIMIT !== undefined ? { BUILD_WATCHER_QUEUE_LIMIT: QUEUE_LIMIT } : {}) };
      const install = await deployDefaultInstall(cp, eventing, counter.url, { sink, deployedFunction: true, functionEnv });
      const token = install.functionToken;
      // The loopback registry plays the cluster's: an ImageStream vouches for its repository.
      await clusterRegistryStream(cp, registry.host, NAMESPACE, 'app');
      try {
        const readyRssMiB = await procStatusMiB(install.fn.process.pid, 'VmRSS');
        const callsBefore = cp.apiCallsWith(token).length;
        const sampler = sampleMemory(install.fn.url);
        const cpuBefore = await cpuSeconds(install.fn.process.pid);
        const pids = [...cp.runningPids(), ...eventing.runningPids()];
        const functionPid = install.fn.process.pid ?? 0;
        const cpuByNameBefore = await cpuByName(pids, functionPid);
        const harnessBefore = process.cpuUsage();
        const loop = monitorEventLoopDelay({ resolution: 10 });
        loop.enable();
        const hopsBefore = eventing.hops.length;
        const completedAt = new Map<string, number>();
        const started = Date.now();
        let next = 0;
        const writer = async (): Promise<void> => {
          for (let i = next++; i < BUILDS; i = next++) {
            const buildName = `burst-${i}`;
            const created = (await cp.admin.json({
              method: 'POST',
              path: PATH,
              body: {
                apiVersion: 'build.openshift.io/v1',
                kind: 'Build',
                metadata: { name: buildName, namespace: NAMESPACE },
                spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } } },
              },
            })) as Record<string, unknown>;
            cp.setBuildLog(NAMESPACE, buildName, `built ${buildName}\n`);
            await cp.admin.json({
              method: 'PUT',
              path: `${PATH}/${buildName}`,
              body: {
                ...created,
                status: { phase: 'Complete', outputDockerImageReference: `${registry.host}/${NAMESPACE}/app:latest`, output: { to: { imageDigest: digest } } },
              },
            });
            completedAt.set(buildName, performance.now());
          }
        };
        await Promise.all(Array.from({ length: WRITERS }, writer));
        const lastCompleted = Date.now();
        const lastCompletedAt = Math.max(...completedAt.values());
        await waitFor(async () => (thoth.submissions.length >= BUILDS ? true : undefined), {
          what: `${BUILDS} submissions on the ${name} path`,
          timeoutMs: 1_800_000,
          intervalMs: 100,
        });
        const allSubmitted = Date.now();
        const functionCpuSeconds = (await cpuSeconds(install.fn.process.pid)) - cpuBefore;
        const cpuByNameAfter = await cpuByName(pids, functionPid);
        const cpu = new Map([...cpuByNameAfter].map(([name, seconds]) => [name, seconds - (cpuByNameBefore.get(name) ?? 0)]));
        const harness = process.cpuUsage(harnessBefore);
        cpu.set('harness (node)', (harness.user + harness.system) / 1e6);
        loop.disable();
        const loopDelay = { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };
        const load = loadavg()[0] ?? 0;
        // Settled: the function has received nothing new for 3 s (the adapter's queue is empty).
        let last = -1;
        await waitFor(
          async () => {
            const received = await metricTotal(install.fn.url, /^build_watcher_events_received_total/);
            const settled = received === last;
            last = received;
            return settled ? true : undefined;
          },
          { what: 'the event stream to settle', timeoutMs: 600_000, intervalMs: 3_000 },
        );
        const { peakWaiting, ...memory } = await sampler.stop();
        const turnedAway = await metricTotal(install.fn.url, /^build_watcher_events_received_total\{[^}]*decision="(queue-full|deadline)"/);
        const calls = cp.apiCallsWith(token).slice(callsBefore);
        const list = (await cp.admin.json({ path: PATH })) as { items: { metadata: { annotations?: Record<string, string> } }[] };
        const marked = list.items.filter((b) => b.metadata.annotations?.[SUBMITTED_AT] !== undefined).length;
        return {
          name,
          burstSeconds: (lastCompleted - started) / 1000,
          allSubmittedSeconds: (allSubmitted - started) / 1000,
          afterLastCompletionSeconds: (allSubmitted - lastCompleted) / 1000,
          submitted: thoth.submissions.length,
          duplicated: thoth.submissions.length - marked,
          lost: BUILDS - marked,
          memory: { readyRssMiB, peakRssMiB: await procStatusMiB(install.fn.process.pid, 'VmHWM'), ...memory },
          apiCalls: countCalls(calls),
          peakInFlight: counter.peak(),
          meanInFlight: counter.mean(),
          peakWaiting,
          turnedAway,
          functionCpuSeconds,
          load,
          hops: hopReport(eventing.hops.slice(hopsBefore), sink, completedAt, lastCompletedAt),
          cpu,
          loopDelay,
        };
      } finally {
        await install.stop();
      }
    } finally {
      await eventing.stop();
    }
  } finally {
    await cp.stop();
    await counter.close();
    await thoth.close();
  }
}

function print(result: PathResult): void {
  const perSecond = BUILDS / result.allSubmittedSeconds;
  const { memory } = result;
  const mib = (value: number) => `${value.toFixed(0)} MiB`;
  console.log(
    `${result.name.padEnd(18)} burst ${result.burstSeconds.toFixed(1)} s; all submitted after ${result.allSubmittedSeconds.toFixed(1)} s ` +
      `(${result.afterLastCompletionSeconds.toFixed(1)} s after the last completion), ${perSecond.toFixed(1)} events/s; ` +
      `submissions in flight at most ${result.peakInFlight}, mean ${result.meanInFlight.toFixed(1)}; ` +
      `deliveries waiting for a worker at most ${result.peakWaiting} (sampled), ${result.turnedAway} answered 503 at once; ` +
      `${result.lost} lost, ${result.duplicated} duplicated (${result.submitted} submissions)`,
  );
  console.log(
    `         function's RSS: ${mib(memory.readyRssMiB)} once ready, peak ${mib(memory.peakRssMiB)} (target ≤ 256 MiB); ` +
      `at the highest of ${memory.samples} samples: RSS ${mib(memory.atPeak.rss)}, V8 heap used ${mib(memory.atPeak.heapUsed)} of ${mib(memory.atPeak.heapTotal)}, ` +
      `external ${mib(memory.atPeak.external)}`,
  );
  const busy = result.functionCpuSeconds / result.allSubmittedSeconds;
  console.log(`         function's CPU until all submitted: ${result.functionCpuSeconds.toFixed(1)} s (${(busy * 100).toFixed(0)}% of one core); load average then ${result.load.toFixed(1)}`);
  const total = [...result.apiCalls.values()].reduce((sum, count) => sum + count, 0);
  const perBuild = (count: number) => (count / result.submitted).toFixed(2);
  const kinds = [...result.apiCalls].sort((a, b) => b[1] - a[1]).map(([kind, count]) => `${kind} ${perBuild(count)}`);
  console.log(`         Kubernetes API calls per submitted Build: ${perBuild(total)} (${kinds.join(', ')})`);
  printHops(result);
}

function printHops(result: PathResult): void {
  const { hops } = result;
  const ms = (s: Spread): string => (s.n === 0 ? 'none' : `p50 ${s.p50.toFixed(1)}, p99 ${s.p99.toFixed(1)}, max ${s.max.toFixed(0)} ms (${s.n})`);
  const sec = (s: Spread): string => (s.n === 0 ? 'none' : `p50 ${(s.p50 / 1000).toFixed(1)}, p99 ${(s.p99 / 1000).toFixed(1)}, max ${(s.max / 1000).toFixed(1)} s`);
  const perBuild = (count: number): string => (count / BUILDS).toFixed(2);
  const components = [...hops.byComponent].map(([name, count]) => `${name} ${perBuild(count)}`).join(', ');
  console.log(
    `         adapter: ${hops.adapterEvents} events (${perBuild(hops.adapterEvents)} per Build) in ${hops.adapterSpanSeconds.toFixed(1)} s, ` +
      `${(hops.adapterEvents / hops.adapterSpanSeconds).toFixed(1)}/s; its sink answered ${ms(hops.sinkAnswer)}; ` +
      `its own time between an answer and its next send ${ms(hops.adapterGap)}; ` +
      `waiting for answers took ${((hops.adapterWaitingSeconds / hops.adapterSpanSeconds) * 100).toFixed(0)}% of its span`,
  );
  console.log(
    `         Complete events left the adapter ${sec(hops.completeLag)} after their Build completed; the last ${hops.lastCompleteSentSeconds.toFixed(1)} s after the last completion`,
  );
  console.log(
    `         hops per Build through the cluster proxy: ${components}; ` +
      (hops.channelAnswer.n === 0 ? '' : `channel answered the ingress ${ms(hops.channelAnswer)}; dispatcher → function ${ms(hops.dispatcherToFunction)}; `) +
      `adapter's send → function ${ms(hops.adapterToFunction)}`,
  );
  console.log(
    `         function answered ${ms(hops.functionAnswer)}, Complete events ${ms(hops.functionAnswerComplete)}; its last answer ${hops.lastFunctionAnswerSeconds.toFixed(1)} s after the last completion`,
  );
  const cpu = [...result.cpu].filter(([, seconds]) => seconds >= 0.05).sort((a, b) => b[1] - a[1]);
  console.log(
    `         CPU until all submitted: ${cpu.map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`).join(', ')}; ` +
      `harness event-loop delay p99 ${result.loopDelay.p99.toFixed(0)} ms, max ${result.loopDelay.max.toFixed(0)} ms`,
  );
}

/** node and faas-js-runtime alone: the compiled echo function's RSS once ready. */
async function runtimeBaselineMiB(): Promise<number> {
  const echo = await startFunction({ env: {}, compiled: true, module: ECHO });
  try {
    return await procStatusMiB(echo.process.pid, 'VmRSS');
  } finally {
    await echo.stop();
  }
}

const loadAverage = (): string => loadavg().map((value) => value.toFixed(1)).join(' ');

async function main(): Promise<void> {
  console.log(`load average at the start: ${loadAverage()} (1, 5, 15 min)`);
  const baseline = await runtimeBaselineMiB();
  console.log(`node and faas-js-runtime with an echo handler, compiled: ${baseline.toFixed(0)} MiB resident once ready`);
  const registry = await startRegistry();
  try {
    const { digest } = await pushTestImage(registry, { repository: `${NAMESPACE}/app`, tag: 'latest', layerSizes: [1024] });
    console.log(`${BUILDS} Builds completed by ${WRITERS} concurrent writers, each run on a fresh control plane; BUILD_WATCHER_QUEUE_LIMIT ${QUEUE_LIMIT ?? 'as shipped'}:`);
    const brokers: PathResult[] = [];
    if (PATHS.includes('broker')) {
      for (const workers of WORKER_COUNTS) {
        const result = await runPath(`Broker, workers ${workers}`, 'broker', workers, registry, digest);
        print(result);
        brokers.push(result);
      }
    }
    const direct = PATHS.includes('direct') ? await runPath(`direct, workers ${SHIPPED_WORKERS}`, 'direct', SHIPPED_WORKERS, registry, digest) : undefined;
    if (direct !== undefined) print(direct);
    for (const broker of brokers) {
      console.log(
        `${broker.name}: all submitted ${broker.afterLastCompletionSeconds.toFixed(1)} s after the last completion (target ≤ 15 s), ` +
          `${broker.lost} lost, ${broker.duplicated} duplicated, peak RSS ${broker.memory.peakRssMiB.toFixed(0)} MiB (target ≤ 256 MiB)` +
          (direct === undefined ? '' : `; time until all submitted ${(broker.allSubmittedSeconds / direct.allSubmittedSeconds).toFixed(2)}× the direct path's`),
      );
    }
  } finally {
    await registry.stop();
    console.log(`load average at the end: ${loadAverage()}`);
  }
}

await main();
