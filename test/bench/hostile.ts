/**
 * `npm run bench:hostile`: what one unauthenticated request can cost the compiled function under
 * faas-js-runtime, with FUNC_BODY_LIMIT, the pod's memory limit and containerConcurrency read
 * from func.yaml. For each worst-case body shape (test/function/hostile-bodies.ts), in each
 * content mode: the peak RSS above the idle process (Linux VmHWM, reset through clear_refs
 * before each round), once alone and `containerConcurrency` at once; and the event-loop block,
 * seen from outside as the slowest /health/liveness answer while the request is handled.
 * Then, for every content type and both framings (Content-Length, chunked), a 256 MiB body
 * streamed to the function (the request that once killed it), measured the same way; and last,
 * the worst request of each content type, alone and `containerConcurrency` at once.
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
  readonly contentType: string;
  /** Headers and body for a JSON document of at most `size` bytes and MAX_JSON_TOKENS tokens. */
  request(body: (size: number, tokens?: number) => string, size: number): { headers: Record<string, string>; body: string };
}

const binaryHeaders = (contentType: string) => ({ ...cloudEventHeaders('dev.knative.apiserver.resource.update'), 'content-type': contentType });

const MODES: readonly Mode[] = [
  // As the ApiServerSource adapter sends: Fastify's JSON parser reads the body.
  { name: 'binary, application/json', contentType: 'application/json', request: (body, size) => ({ headers: binaryHeaders('application/json'), body: body(size) }) },
  {
    // The function parses the envelope once, then hands the parsed object to the runtime's CloudEvents SDK.
    name: 'structured',
    contentType: 'application/cloudevents+json',
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

/** A body held whole, or `size` bytes streamed in 1 MiB chunks and never held whole. */
type Request = { readonly headers: Record<string, string> } & ({ readonly body: string } | { readonly size: number; readonly chunked: boolean });

const CHUNK = Buffer.alloc(MiB, 'a=b&');

/** The answer's status and first words; `closed (…)` when the function closed the connection before it was read. */
function post(port: number, request: Request): Promise<string> {
  return new Promise((resolve) => {
    const body = 'body' in request ? Buffer.from(request.body) : undefined;
    const framing = 'body' in request ? { 'content-length': String(Buffer.byteLength(request.body)) } : request.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(request.size) };
    const req = http.request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent: false, headers: { ...request.headers, ...framing } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        req.destroy();
        resolve(`${res.statusCode} ${text.trim().slice(0, 70)}`);
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(`closed (${error.code ?? error.message})`));
    if (body !== undefined) return void req.end(body);
    const size = 'size' in request ? request.size : 0;
    let written = 0;
    const pump = (): void => {
      while (written < size && !req.destroyed) {
        written += CHUNK.length;
        if (!req.write(CHUNK)) return void req.once('drain', pump);
      }
      if (!req.destroyed) req.end();
    };
    pump();
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
async function round(bodyLimit: number, requests: readonly Request[]): Promise<Round> {
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

const HUGE = 256 * MiB;

/** Every content type a sender can choose, each with the headers of a request that claims it (a binary CloudEvent's for JSON). */
const CONTENT_TYPES: readonly { readonly name: string; readonly headers: Record<string, string> }[] = [
  { name: 'application/json', headers: binaryHeaders('application/json') },
  { name: 'application/cloudevents+json', headers: { 'content-type': 'application/cloudevents+json' } },
  { name: 'application/x-www-form-urlencoded', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  { name: 'text/plain', headers: { 'content-type': 'text/plain' } },
  { name: 'application/octet-stream', headers: { 'content-type': 'application/octet-stream' } },
  { name: 'multipart/form-data', headers: { 'content-type': 'multipart/form-data; boundary=x' } },
  { name: 'none', headers: {} },
];

interface Worst { one: number; all: number }

function line(name: string, one: Round, all: Round, concurrency: number): string {
  return `  ${name.padEnd(44)} 1: +${one.extra.toFixed(0).padStart(3)} MiB, block ${one.block.toFixed(0).padStart(4)} ms | ${concurrency}: peak ${all.peak.toFixed(0).padStart(3)} MiB (+${all.extra.toFixed(0).padStart(3)}), block ${all.block.toFixed(0).padStart(4)} ms | ${one.answer}`;
}

async function main(): Promise<void> {
  const { bodyLimit, memoryLimitMiB, concurrency } = await deployment();
  console.log(`FUNC_BODY_LIMIT ${(bodyLimit / MiB).toFixed(2)} MiB, pod memory limit ${memoryLimitMiB} MiB, containerConcurrency ${concurrency}`);
  console.log('extra = peak RSS while handling − RSS of the idle process before; block = slowest /health/liveness answer meanwhile\n');
  const worst = new Map<string, Worst>(CONTENT_TYPES.map((type) => [type.name, { one: 0, all: 0 }]));
  const record = (type: string, one: Round, all: Round): void => {
    const seen = worst.get(type) ?? { one: 0, all: 0 };
    worst.set(type, { one: Math.max(seen.one, one.extra), all: Math.max(seen.all, all.peak) });
  };
  let worstBlock = 0;
  for (const mode of MODES) {
    console.log(mode.name);
    for (const shape of HOSTILE_SHAPES) {
      const requests = Array.from({ length: concurrency }, () => mode.request(shape.body, bodyLimit));
      const one = await round(bodyLimit, requests.slice(0, 1));
      const all = await round(bodyLimit, requests);
      record(mode.contentType, one, all);
      worstBlock = Math.max(worstBlock, one.block);
      console.log(line(shape.name, one, all, concurrency));
    }
  }
  console.log(`\n${HUGE / MiB} MiB bodies, streamed`);
  for (const type of CONTENT_TYPES) {
    for (const chunked of [false, true]) {
      const requests: Request[] = Array.from({ length: concurrency }, () => ({ headers: type.headers, size: HUGE, chunked }));
      const one = await round(bodyLimit, requests.slice(0, 1));
      const all = await round(bodyLimit, requests);
      record(type.name, one, all);
      worstBlock = Math.max(worstBlock, one.block);
      console.log(line(`${type.name}, ${chunked ? 'chunked' : 'content-length'}`, one, all, concurrency));
    }
  }
  console.log(`\nworst request of each content type: alone (bound 64 MiB) | ${concurrency} at once, peak RSS (pod limit ${memoryLimitMiB} MiB)`);
  for (const [type, { one, all }] of worst) console.log(`  ${type.padEnd(36)} +${one.toFixed(0).padStart(3)} MiB | ${all.toFixed(0).padStart(3)} MiB`);
  const values = [...worst.values()];
  console.log(`worst of all: +${Math.max(...values.map((w) => w.one)).toFixed(0)} MiB alone, ${Math.max(...values.map((w) => w.all)).toFixed(0)} MiB peak with ${concurrency} at once; slowest liveness answer ${worstBlock.toFixed(0)} ms`);
}

await main();
