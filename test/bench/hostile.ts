/**
 * `npm run bench:hostile`: what one unauthenticated request can cost the compiled function under
 * faas-js-runtime, with FUNC_BODY_LIMIT, the pod's memory limit and containerConcurrency read
 * from func.yaml. For each worst-case body shape (test/function/hostile-bodies.ts), in each
 * content mode: the peak RSS above the idle process (Linux VmHWM, reset through clear_refs
 * before each round), once alone and `containerConcurrency` at once; and the event-loop block,
 * seen from outside as the slowest /health/liveness answer while the request is handled.
 * A benchmark, not a test: it prints numbers, it asserts nothing.
 */
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { cloudEventHeaders } from '../function/run-function.js';
import { HOSTILE_SHAPES } from '../function/hostile-bodies.js';
import { MAX_JSON_TOKENS } from '../../functions/events/json-shape.js';
import { startRuntime } from './runtime.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const FUNCTION = path.join(ROOT, 'build/functions/index.js');
const MiB = 1024 * 1024;

interface Deployment {
  readonly bodyLimit: number;
  readonly memoryLimitMiB: number;
  readonly concurrency: number;
}

interface FuncYaml {
  run: { envs: { name: string; value: string }[] };
  deploy: { options: { resources: { limits: { memory: string; concurrency: number } } } };
}

async function deployment(): Promise<Deployment> {
  const func = parse(await readFile(path.join(ROOT, 'func.yaml'), 'utf8')) as FuncYaml;
  const limits = func.deploy.options.resources.limits;
  const memory = /^(\d+)Mi$/.exec(limits.memory);
  if (memory === null) throw new Error(`func.yaml: memory limit ${limits.memory} is not in Mi`);
  const bodyLimit = Number(func.run.envs.find((env) => env.name === 'FUNC_BODY_LIMIT')?.value);
  return { bodyLimit, memoryLimitMiB: Number(memory[1]), concurrency: limits.concurrency };
}

interface Mode {
  readonly name: string;
  /** Headers and body for a JSON document of at most `size` bytes and MAX_JSON_TOKENS tokens. */
  request(body: (size: number, tokens?: number) => string, size: number): { headers: Record<string, string>; body: string };
}

const binaryHeaders = (contentType: string) => ({ ...cloudEventHeaders('dev.knative.apiserver.resource.update'), 'content-type': contentType });

const MODES: readonly Mode[] = [
  // As the ApiServerSource adapter sends: Fastify's JSON parser reads the body.
  { name: 'binary, application/json', request: (body, size) => ({ headers: binaryHeaders('application/json'), body: body(size) }) },
  // Passed through by the runtime: the function's own intake parses it.
  { name: 'binary, application/octet-stream', request: (body, size) => ({ headers: binaryHeaders('application/octet-stream'), body: body(size) }) },
  {
    // The runtime's CloudEvents SDK parses the envelope, four times.
    name: 'structured',
    request: (body, size) => {
      const head = `{"specversion":"1.0","id":"${randomUUID()}","source":"/bench","type":"dev.knative.apiserver.resource.update","datacontenttype":"application/json","data":`;
      // The envelope's own tokens: 6 colons, 6 commas and its brace.
      return { headers: { 'content-type': 'application/cloudevents+json' }, body: `${head}${body(size - head.length - 1, MAX_JSON_TOKENS - 13)}}` };
    },
  },
];

function statusOf(pid: number): Promise<{ rss: number; hwm: number }> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((text) => {
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
  });
}

function post(port: number, request: { headers: Record<string, string>; body: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(request.body);
    const req = http.request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent: false, headers: { ...request.headers, 'content-length': String(body.length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(`${res.statusCode} ${text.trim().slice(0, 70)}`));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The slowest liveness answer while `work` runs: how long the event loop was blocked at most. */
async function slowestLiveness(port: number, work: Promise<unknown>): Promise<number> {
  let done = false;
  void work.finally(() => (done = true));
  let slowest = 0;
  while (!done) {
    const started = performance.now();
    await fetch(`http://127.0.0.1:${port}/health/liveness`).then((res) => res.arrayBuffer(), () => undefined);
    slowest = Math.max(slowest, performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return slowest;
}

interface Round {
  readonly extra: number;
  readonly peak: number;
  readonly block: number;
  readonly answer: string;
}

/**
 * One round in a fresh process: V8 gives memory back lazily, so a process that handled earlier
 * rounds would count their garbage too.
 */
async function round(bodyLimit: number, requests: readonly { headers: Record<string, string>; body: string }[]): Promise<Round> {
  const runtime = await startRuntime(ROOT, FUNCTION, { FUNC_BODY_LIMIT: String(bodyLimit), THOTH_USER_API_HOST: 'http://127.0.0.1:9', BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1' });
  const { port } = runtime;
  const pid = runtime.child.pid;
  try {
    if (pid === undefined) throw new Error('the function did not start');
    const before = await statusOf(pid);
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    const work = Promise.all(requests.map((request) => post(port, request)));
    const block = await slowestLiveness(port, work);
    const answers = await work;
    const after = await statusOf(pid);
    return { extra: after.hwm - before.rss, peak: after.hwm, block, answer: answers[0] ?? '' };
  } finally {
    await runtime.stop();
  }
}

async function main(): Promise<void> {
  const { bodyLimit, memoryLimitMiB, concurrency } = await deployment();
  console.log(`FUNC_BODY_LIMIT ${(bodyLimit / MiB).toFixed(2)} MiB, pod memory limit ${memoryLimitMiB} MiB, containerConcurrency ${concurrency}`);
  console.log('extra = peak RSS while handling − RSS of the idle process before; block = slowest /health/liveness answer meanwhile\n');
  let worstOne = 0;
  let worstAll = 0;
  let worstBlock = 0;
  for (const mode of MODES) {
    console.log(mode.name);
    for (const shape of HOSTILE_SHAPES) {
      const requests = Array.from({ length: concurrency }, () => mode.request(shape.body, bodyLimit));
      const one = await round(bodyLimit, requests.slice(0, 1));
      const all = await round(bodyLimit, requests);
      worstOne = Math.max(worstOne, one.extra);
      worstAll = Math.max(worstAll, all.peak);
      worstBlock = Math.max(worstBlock, one.block);
      console.log(
        `  ${shape.name.padEnd(44)} 1: +${one.extra.toFixed(0).padStart(3)} MiB, block ${one.block.toFixed(0).padStart(4)} ms | ${concurrency}: peak ${all.peak.toFixed(0).padStart(3)} MiB (+${all.extra.toFixed(0).padStart(3)}), block ${all.block.toFixed(0).padStart(4)} ms | ${one.answer}`,
      );
    }
  }
  console.log(`\nworst single request: +${worstOne.toFixed(0)} MiB (bound 128 MiB), block ${worstBlock.toFixed(0)} ms; worst peak with ${concurrency} at once: ${worstAll.toFixed(0)} MiB (pod limit ${memoryLimitMiB} MiB)`);
}

await main();
