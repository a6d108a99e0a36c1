/**
 * `npm run bench`: the function's event throughput, latency and cold start, each against the
 * same runtime serving an echo handler, measured in one run on compiled JavaScript.
 * A benchmark, not a test: it prints numbers and ratios, it asserts nothing.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { freePort } from '../function/run-function.js';
import { runLoad, type LoadRequest, type LoadResult } from './load.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const CLI = path.join(ROOT, 'node_modules/faas-js-runtime/bin/cli.js');
const FUNCTION = path.join(ROOT, 'build/functions/index.js');
const ECHO = path.join(HERE, 'echo-function.js');
const EVENTS = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const COMPLETE_EVENTS = Number(process.env['BENCH_COMPLETE_EVENTS'] ?? 500);
const CONCURRENCY = 32;
/** Echo and ours take turns, so that other work on the machine weighs on both alike. */
const ROUNDS = 5;
const COLD_STARTS = 7;

interface Started {
  readonly url: string;
  readonly readyMs: number;
  /** The process's CPU time so far (user + system), from /proc. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

async function cpuSecondsOf(pid: number | undefined): Promise<number> {
  const stat = await readFile(`/proc/${pid ?? 0}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

function probe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health/readiness', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });
}

async function startRuntime(file: string, env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [CLI, file], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', FUNC_PORT: String(port), FUNC_LOG_LEVEL: 'error', ...env },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 20_000;
  while (!(await probe(port))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${file} did not become ready`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    url: `http://127.0.0.1:${port}`,
    readyMs,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

function event(type: string, object: Record<string, unknown>): LoadRequest {
  const metadata = object['metadata'] as { name: string; namespace: string };
  return {
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': randomUUID(),
      'ce-source': 'https://127.0.0.1:6443',
      'ce-type': type,
      'ce-subject': `/apis/build.openshift.io/v1/namespaces/${metadata.namespace}/builds/${metadata.name}`,
      'ce-kind': 'Build',
      'ce-name': metadata.name,
      'ce-namespace': metadata.namespace,
      'ce-apiversion': 'build.openshift.io/v1',
    },
    body: JSON.stringify(object),
  };
}

function build(phase: string, output: string, digest?: string, n = 1): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name: `app-${n}`, namespace: 'bench', uid: `uid-${n}`, resourceVersion: '1', annotations: { 'openshift.io/build.number': String(n) } },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: output } } },
    status: { phase, outputDockerImageReference: output, ...(digest !== undefined ? { output: { to: { imageDigest: digest } } } : {}) },
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const ms = (value: number) => `${value.toFixed(1)} ms`;

function report(name: string, result: LoadResult, ceiling?: LoadResult): void {
  const ratio = ceiling === undefined ? '' : `  ratio ${(result.perSecond / ceiling.perSecond).toFixed(2)}× echo`;
  console.log(
    `${name.padEnd(34)} ${result.perSecond.toFixed(0).padStart(7)} events/s  p50 ${ms(result.p50Ms)}  p99 ${ms(result.p99Ms)}  statuses ${JSON.stringify(result.statuses)}${ratio}`,
  );
}

async function main(): Promise<void> {
  const registry = await startRegistry();
  const thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
  const image = await pushTestImage(registry, { repository: 'bench/app', tag: 'latest', layerSizes: [1024] });
  const env = { THOTH_USER_API_HOST: thoth.url, BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1', THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1', THOTH_BUILD_WATCHER_WORKERS: '8' };
  try {
    console.log(`cold start (process start → ready), median of ${COLD_STARTS}:`);
    const echoStarts: number[] = [];
    const ourStarts: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) {
      for (const [file, into] of [[ECHO, echoStarts], [FUNCTION, ourStarts]] as const) {
        const started = await startRuntime(file, env);
        into.push(started.readyMs);
        await started.stop();
      }
    }
    const echoCold = median(echoStarts);
    const ourCold = median(ourStarts);
    console.log(`  echo function   ${ms(echoCold)}`);
    console.log(`  build-watcher   ${ms(ourCold)}  ratio ${(ourCold / echoCold).toFixed(2)}× echo (target ≤ 1.5×)`);

    const running = build('Running', `${registry.host}/bench/app:latest`);
    // One Build per event: events for one Build while it is being submitted are acknowledged
    // as in progress, which would measure nothing.
    const complete = (n: number) => build('Complete', `${registry.host}/bench/app:latest`, image.digest, n);
    const echo = await startRuntime(ECHO, env);
    const ours = await startRuntime(FUNCTION, env);
    try {
      // Warm both up, so JIT and connection set-up are not measured.
      await runLoad(echo.url, 2_000, CONCURRENCY, () => event('dev.knative.apiserver.resource.update', running));
      await runLoad(ours.url, 2_000, CONCURRENCY, () => event('dev.knative.apiserver.resource.update', running));
      console.log(`\nthroughput, ${CONCURRENCY} concurrent clients on loopback, ${ROUNDS} rounds of ${EVENTS / ROUNDS} events each, echo and ours in turn:`);
      const filteredEvent = () => event('dev.knative.apiserver.resource.update', running);
      const rounds: { ceiling: LoadResult; filtered: LoadResult; echoCpu: number; ourCpu: number }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const echoBefore = await echo.cpuSeconds();
        const ceiling = await runLoad(echo.url, EVENTS / ROUNDS, CONCURRENCY, filteredEvent);
        const echoCpu = (await echo.cpuSeconds()) - echoBefore;
        const ourBefore = await ours.cpuSeconds();
        const filtered = await runLoad(ours.url, EVENTS / ROUNDS, CONCURRENCY, filteredEvent);
        rounds.push({ ceiling, filtered, echoCpu, ourCpu: (await ours.cpuSeconds()) - ourBefore });
      }
      const byRatio = [...rounds].sort((a, b) => a.filtered.perSecond / a.ceiling.perSecond - b.filtered.perSecond / b.ceiling.perSecond);
      const middle = byRatio[Math.floor(ROUNDS / 2)];
      if (middle === undefined) throw new Error('no rounds');
      report('echo function (ceiling)', middle.ceiling);
      report('non-matching update events', middle.filtered, middle.ceiling);
      const perEvent = (cpu: number) => (cpu * 1e6) / (EVENTS / ROUNDS);
      const echoCpu = median(rounds.map((r) => perEvent(r.echoCpu)));
      const ourCpu = median(rounds.map((r) => perEvent(r.ourCpu)));
      console.log(`  rounds' ratios: ${rounds.map((r) => (r.filtered.perSecond / r.ceiling.perSecond).toFixed(2)).join(', ')} (the middle one above)`);
      console.log(`  CPU per event, median of rounds: ours ${ourCpu.toFixed(0)} µs, echo ${echoCpu.toFixed(0)} µs, ratio ${(ourCpu / echoCpu).toFixed(2)}× echo`);
      console.log(`  target: filtered events ≥ 1.0× echo → ${(middle.filtered.perSecond / middle.ceiling.perSecond).toFixed(2)}×`);
      const submitted = await runLoad(ours.url, COMPLETE_EVENTS, CONCURRENCY, (i) => event('dev.knative.apiserver.resource.update', complete(i)));
      report('Complete events (Thoth stand-in)', submitted, middle.ceiling);
    } finally {
      await Promise.all([echo.stop(), ours.stop()]);
    }
  } finally {
    await thoth.close();
    await registry.stop();
  }
}

await main();
