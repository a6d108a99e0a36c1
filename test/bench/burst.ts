/**
 * `npm run bench:burst`: 1,000 Builds completed as fast as the API server accepts them, through
 * the default install (ApiServerSource → Broker → Trigger → function, real Knative Eventing) and
 * through the direct-sink variant (ApiServerSource → function), each on a fresh control plane, in
 * one run. Reports, per path: time until all are submitted (from the first Build's creation and
 * from the last one's completion), events/s, the function's peak RSS, the most submissions in
 * flight at Thoth at once, and lost and duplicated submissions; then the ratio of the two paths.
 * A benchmark, not a test: it prints numbers, it asserts nothing. BENCH_BUILDS changes the count.
 */
import { readFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import { startControlPlane } from '../harness/controlplane.js';
import { startEventing } from '../harness/eventing.js';
import { waitFor } from '../harness/wait.js';
import { metricTotal } from '../function/run-function.js';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import type { RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { clusterRegistryStream } from '../e2e/cluster.js';
import { deployDefaultInstall, NAMESPACE } from '../e2e/default-install.js';

const BUILDS = Number(process.env['BENCH_BUILDS'] ?? 1_000);
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
  peakRssMiB: number;
  peakInFlight: number;
}

/** A pass-through in front of Thoth that counts submissions in flight at once. */
async function inFlightCounter(upstream: string): Promise<{ url: string; peak: () => number; close: () => Promise<void> }> {
  const target = new URL(upstream);
  let current = 0;
  let peak = 0;
  const server: Server = createServer((req, res) => {
    const counted = req.method === 'POST';
    if (counted) peak = Math.max(peak, ++current);
    const done = (): void => {
      if (counted) current--;
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
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function peakRssMiB(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid ?? 0}/status`, 'utf8').catch(() => '');
  const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kib / 1024;
}

async function runPath(name: string, sink: 'broker' | 'direct', registry: RunningRegistry, digest: string): Promise<PathResult> {
  const thoth = await ThothStub.start();
  const counter = await inFlightCounter(thoth.url);
  const cp = await startControlPlane();
  try {
    const eventing = await startEventing(cp);
    try {
      const install = await deployDefaultInstall(cp, eventing, counter.url, { sink });
      // The loopback registry plays the cluster's: an ImageStream vouches for its repository.
      await clusterRegistryStream(cp, registry.host, NAMESPACE, 'app');
      try {
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
          }
        };
        await Promise.all(Array.from({ length: WRITERS }, writer));
        const lastCompleted = Date.now();
        await waitFor(async () => (thoth.submissions.length >= BUILDS ? true : undefined), {
          what: `${BUILDS} submissions on the ${name} path`,
          timeoutMs: 1_800_000,
          intervalMs: 100,
        });
        const allSubmitted = Date.now();
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
          peakRssMiB: await peakRssMiB(install.fn.process.pid),
          peakInFlight: counter.peak(),
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
  console.log(
    `${result.name.padEnd(8)} burst ${result.burstSeconds.toFixed(1)} s; all submitted after ${result.allSubmittedSeconds.toFixed(1)} s ` +
      `(${result.afterLastCompletionSeconds.toFixed(1)} s after the last completion), ${perSecond.toFixed(1)} events/s; ` +
      `peak RSS ${result.peakRssMiB.toFixed(0)} MiB; at most ${result.peakInFlight} submissions in flight; ` +
      `${result.lost} lost, ${result.duplicated} duplicated (${result.submitted} submissions)`,
  );
}

async function main(): Promise<void> {
  const registry = await startRegistry();
  try {
    const { digest } = await pushTestImage(registry, { repository: `${NAMESPACE}/app`, tag: 'latest', layerSizes: [1024] });
    console.log(`${BUILDS} Builds completed by ${WRITERS} concurrent writers, each path on a fresh control plane:`);
    const broker = await runPath('Broker', 'broker', registry, digest);
    print(broker);
    const direct = await runPath('direct', 'direct', registry, digest);
    print(direct);
    console.log(
      `ratio Broker/direct: time until all submitted ${(broker.allSubmittedSeconds / direct.allSubmittedSeconds).toFixed(2)}×; ` +
        `target on the Broker path: all submitted within 30 s of the last completion → ${broker.afterLastCompletionSeconds.toFixed(1)} s, ` +
        `${broker.lost} lost, ${broker.duplicated} duplicated`,
    );
  } finally {
    await registry.stop();
  }
}

await main();
