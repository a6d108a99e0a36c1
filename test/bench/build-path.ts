/**
 * `npm run bench` (fourth part): where one Complete event's time goes, from its arrival at the function to its answer. The
 * function runs as deployed (compiled, under faas-js-runtime, reading its service account where the kubelet mounts it) against
 * the real API server (through the harness's front, which serves `builds/log`) and the Thoth stand-in, which checks every image
 * in a loopback registry. Each Build is a Docker build from an ImageStreamTag, with a 64 KiB log; its events are sent one at a
 * time, so every call made meanwhile is that Build's. Timing proxies in front of the API server (TLS, with a CA of the
 * benchmark's own in the service account's `ca.crt`) and of Thoth time every call from outside the function: each step's
 * duration, and the function's own time (the answer's time less the union of the calls'). p50 and p99 over BENCH_PATH_BUILDS
 * (200) Builds. BENCH_PATH_RTT_MS adds a round trip's delay to every call, as on a cluster where the API server and Thoth
 * are a network hop away (loopback has none). With BENCH_PATH_BEFORE (another compiled build/functions/index.js), that code too, the two processes taking turns
 * Build by Build so both see the same load. A benchmark: it prints, it asserts nothing.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FUNCTION_RULES, buildObject, completeStatus, createWithStatus, prepareNamespace } from '../e2e/cluster.js';
import { apiServerAttributes, cloudEventHeaders, inPod } from '../function/run-function.js';
import { startControlPlane } from '../harness/controlplane.js';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import { makeServerPki } from '../registry/test-pki.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { startRuntime } from './runtime.js';

const ROOT = process.cwd();
const FUNCTION = path.join(ROOT, 'build/functions/index.js');
const BUILDS = Number(process.env['BENCH_PATH_BUILDS'] ?? 200);
const NS = 'bench-path';
/** Another compiled index.js (say, main's), run beside this code's, the two taking turns Build by Build. */
const BEFORE = process.env['BENCH_PATH_BEFORE'] ?? '';
const RTT_MS = Number(process.env['BENCH_PATH_RTT_MS'] ?? 0);

interface Run {
  readonly label: string;
  readonly runtime: Awaited<ReturnType<typeof startRuntime>>;
  readonly totals: number[];
  readonly own: number[];
  readonly steps: Map<string, number[]>;
  readonly counts: Map<string, number>;
  failed: number;
}

interface Call { readonly step: string; readonly start: number; end: number }

/** Names a call by what it is for; a PATCH by its body's type: the claim is a merge patch, the mark a JSON patch under it. */
function stepOf(method: string, url: string, contentType: string): string {
  const pathname = url.split('?')[0] ?? '';
  if (/\/builds\/[^/]+\/log$/.test(pathname)) return 'GET log';
  if (/\/builds\/[^/]+$/.test(pathname)) return method === 'GET' ? 'GET Build' : contentType.includes('merge-patch') ? 'PATCH claim' : 'PATCH mark';
  if (/\/imagestreams\//.test(pathname)) return `${method} ImageStream`;
  if (/\/events$/.test(pathname)) return 'POST Event';
  return `${method} ${pathname}`;
}

/** Forwards every request to `target`, timing it from its arrival to the end of its answer. */
function timingProxy(target: URL, calls: Call[], name: (method: string, url: string, contentType: string) => string,
  tls: { key: Buffer; cert: Buffer; ca: string } | undefined): Promise<{ url: string; close: () => void }> {
  const agent = tls === undefined ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true, ca: tls.ca });
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const call: Call = { step: name(req.method ?? 'GET', req.url ?? '/', req.headers['content-type'] ?? ''), start: performance.now(), end: 0 };
    const send = tls === undefined ? http.request : https.request;
    const upstream = send(new URL(req.url ?? '/', target), { method: req.method, headers: { ...req.headers, host: target.host }, agent }, (answer) => {
      const reply = () => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      };
      if (RTT_MS > 0) setTimeout(reply, RTT_MS / 2);
      else reply();
      answer.on('end', () => {
        call.end = performance.now();
        calls.push(call);
      });
    });
    upstream.on('error', () => res.destroy());
    // A network hop's delay, each way, as to an API server and a Thoth a hop away (BENCH_PATH_RTT_MS, the round trip).
    if (RTT_MS > 0) setTimeout(() => req.pipe(upstream), RTT_MS / 2);
    else req.pipe(upstream);
  };
  const server = tls === undefined ? http.createServer({ keepAliveTimeout: 60_000 }, handler) : https.createServer({ key: tls.key, cert: tls.cert, keepAliveTimeout: 60_000 }, handler);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    resolve({ url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`, close: () => server.close() });
  }));
}

function post(port: number, object: Record<string, unknown>): Promise<number> {
  const body = JSON.stringify(object);
  return new Promise((resolve, reject) => {
    const headers = { ...cloudEventHeaders('dev.knative.apiserver.resource.update', apiServerAttributes(object)), 'content-length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Milliseconds covered by at least one of `calls`. */
function covered(calls: readonly Call[]): number {
  const sorted = [...calls].sort((a, b) => a.start - b.start);
  let total = 0;
  let reached = -Infinity;
  for (const { start, end } of sorted) {
    total += Math.max(0, end - Math.max(start, reached));
    reached = Math.max(reached, end);
  }
  return total;
}

const percentile = (values: readonly number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? NaN;

async function main(): Promise<void> {
  const [cp, registry] = await Promise.all([startControlPlane(), startRegistry()]);
  const thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-path-'));
  const calls: Call[] = [];
  try {
    const image = await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [1024] });
    const base = await pushTestImage(registry, { repository: `${NS}/base`, tag: 'latest', layerSizes: [1024] });
    await prepareNamespace(cp, NS, { 'build-watcher': FUNCTION_RULES });
    await createWithStatus(cp, { apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', metadata: { name: 'base', namespace: NS } }, {
      dockerImageRepository: `${registry.host}/${NS}/base`,
      tags: [{ tag: 'latest', items: [{ dockerImageReference: `${registry.host}/${NS}/base@${base.digest}`, image: base.digest, created: '2026-11-20T10:00:00Z', generation: 1 }] }],
    });
    // The service account as mounted, but its ca.crt is the CA of the timing proxy, which the function is sent to.
    const pki = await makeServerPki(dir);
    const account = await cp.serviceAccountDirectory(NS, 'build-watcher');
    const serviceAccount = path.join(dir, 'account');
    await mkdir(serviceAccount);
    await Promise.all(['token', 'namespace'].map((file) => copyFile(path.join(account, file), path.join(serviceAccount, file))));
    await copyFile(pki.caPath, path.join(serviceAccount, 'ca.crt'));
    const api = await timingProxy(new URL(cp.server), calls, stepOf, { key: await readFile(pki.keyPath), cert: await readFile(pki.certPath), ca: cp.caPem });
    const thothProxy = await timingProxy(new URL(thoth.url), calls, (method, url) => `Thoth ${method} ${url.split('?')[0] ?? ''}`, undefined);
    const apiUrl = new URL(api.url);
    const env = { KUBERNETES_SERVICE_HOST: apiUrl.hostname, KUBERNETES_SERVICE_PORT: apiUrl.port, THOTH_USER_API_HOST: thothProxy.url, THOTH_WATCHED_NAMESPACE: NS };
    const [unshare, prefix] = inPod(serviceAccount, []);
    const runs: Run[] = [];
    for (const [label, file] of [['before', BEFORE], ['this code', FUNCTION]] as const) {
      if (file === '') continue;
      runs.push({ label, runtime: await startRuntime(ROOT, file, env, { readyWithinMs: 30_000, launcher: [unshare, ...prefix] }), totals: [], own: [], steps: new Map(), counts: new Map(), failed: 0 });
    }
    const log = Array.from({ length: 1024 }, (_, i) => `${String(i).padStart(5, '0')} STEP ${i % 20}: ${'x'.repeat(49)}\n`).join('');
    const reference = `${registry.host}/${NS}/app:latest`;
    try {
      // Two Builds each first, untimed: the first event loads the API and Thoth clients. Then the processes take turns.
      for (let i = -2 * runs.length; i < BUILDS * runs.length; i++) {
        const run = runs[(i + 2 * runs.length) % runs.length];
        if (run === undefined) break;
        const name = `path-${i + 2 * runs.length}`;
        const spec = buildObject(NS, name, reference);
        const object = { ...spec, spec: { ...(spec['spec'] as Record<string, unknown>), strategy: { type: 'Docker', dockerStrategy: { from: { kind: 'ImageStreamTag', name: 'base:latest', namespace: NS } } } } };
        cp.setBuildLog(NS, name, log);
        const build = await createWithStatus(cp, object, completeStatus(reference, image.digest));
        calls.length = 0;
        const start = performance.now();
        const status = await post(run.runtime.port, build);
        const total = performance.now() - start;
        if (i < 0) continue;
        if (status !== 200) run.failed += 1;
        run.totals.push(total);
        run.own.push(total - covered(calls));
        const perStep = new Map<string, number>();
        for (const call of calls) perStep.set(call.step, (perStep.get(call.step) ?? 0) + (call.end - call.start));
        for (const [step, ms] of perStep) run.steps.set(step, [...(run.steps.get(step) ?? []), ms]);
        for (const call of calls) run.counts.set(call.step, (run.counts.get(call.step) ?? 0) + 1);
      }
    } finally {
      await Promise.all(runs.map(({ runtime }) => runtime.stop()));
      api.close();
      thothProxy.close();
    }
    const row = (label: string, values: readonly number[]) =>
      console.log(`  ${label.padEnd(44)} p50 ${percentile(values, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(values, 99).toFixed(1).padStart(6)} ms`);
    for (const run of runs) {
      console.log(`\nthe path of one Complete Build (${run.label}; ${RTT_MS} ms round trip added per call), ${BUILDS} Builds one at a time (${run.failed} not answered 200); each step timed from outside the function:`);
      for (const [step, values] of [...run.steps].sort((a, b) => percentile(b[1], 50) - percentile(a[1], 50))) {
        row(`${step} (${((run.counts.get(step) ?? 0) / BUILDS).toFixed(2)} per Build)`, values);
      }
      row('the function itself (total less the calls)', run.own);
      row('total, arrival → answer', run.totals);
    }
  } finally {
    await thoth.close();
    await registry.stop();
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
