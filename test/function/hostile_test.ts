/**
 * Hostile input through the real runtime (faas-js-runtime over HTTP on 127.0.0.1), with the
 * production FUNC_BODY_LIMIT from func.yaml: every request below gets the 4xx its case names,
 * with a one-line reason; the process neither exits nor reports an unhandled rejection; and a
 * good event after each group is still processed. Stand-ins: the Thoth stub; no cluster
 * (BUILD_WATCHER_TRUST_EVENT_PAYLOAD=1), which is why sweeps and references answer 422 here.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { requestRefusal } from '../../functions/events/envelope.js';
import { MAX_JSON_DEPTH, MAX_JSON_TOKENS } from '../../functions/events/json-shape.js';
import { REQUEST_BODY_DEADLINE_MS } from '../../functions/events/request-deadline.js';
import { waitFor } from '../harness/wait.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { HOSTILE_SHAPES } from './hostile-bodies.js';
import { INVALID_ENVELOPES, VALID_ENVELOPES } from './hostile-envelopes.js';
import { cloudEventHeaders, metricTotal, startFunction, type RunningFunction } from './run-function.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Sent {
  readonly status: number;
  readonly body: string;
}

interface Case {
  readonly name: string;
  readonly status: number;
  readonly reason: RegExp;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

function send(port: number, headers: Readonly<Record<string, string>>, body: string | Buffer, method = 'POST'): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const req = http.request({ host: '127.0.0.1', port, path: '/', method, agent: false, headers: { ...headers, 'content-length': String(bytes.length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(bytes);
  });
}

/** Headers and a body sent so far, then nothing (or one byte at a time): answered when the deadline passes. */
function sendSlowly(port: number, headers: Readonly<Record<string, string>>, first: string, drip: boolean): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        clearInterval(dripping);
        resolve({ status: res.statusCode ?? 0, body: text });
      });
    });
    req.on('error', (error) => {
      clearInterval(dripping);
      reject(error);
    });
    req.flushHeaders();
    req.write(first);
    const dripping = setInterval(() => {
      if (drip && !req.destroyed) req.write(' ');
    }, 200);
  });
}

const binary = (type: string, extra: Readonly<Record<string, string>> = {}, contentType = 'application/json'): Record<string, string> => ({
  ...cloudEventHeaders(type),
  'content-type': contentType,
  ...extra,
});

const UPDATE = 'dev.knative.apiserver.resource.update';

function build(name: string, phase = 'Running'): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace: 'myproject', uid: `uid-${name}`, resourceVersion: '7' },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: 'registry.example/app:latest' } } },
    status: { phase, outputDockerImageReference: 'registry.example/app:latest' },
  };
}

const structured = (_fields: Record<string, unknown>): Case['headers'] => ({ 'content-type': 'application/cloudevents+json' });
const envelope = (fields: Record<string, unknown>) =>
  JSON.stringify({ specversion: '1.0', id: randomUUID(), source: '/hostile', type: UPDATE, datacontenttype: 'application/json', ...fields });

/** Sets `value` at a dotted path in a copy of `object`. */
function withValue(object: Record<string, unknown>, at: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(object);
  const keys = at.split('.');
  let node: Record<string, unknown> = copy;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys[keys.length - 1] ?? ''] = value;
  return copy;
}

function cases(bodyLimit: number): Case[] {
  const list: Case[] = [];
  const add = (name: string, status: number, reason: RegExp, headers: Case['headers'], body: string | Buffer) => list.push({ name, status, reason, headers, body });
  const good = JSON.stringify(build('good'));

  // Not CloudEvents at all: JSON reaches the function, which says what it expects (400); any other body is refused from
  // its headers, unread (415).
  for (const contentType of ['application/json', 'text/plain', 'application/octet-stream', 'application/xml', 'application/x-www-form-urlencoded', 'image/png']) {
    for (const body of ['{"kind":"Build"}', 'hello', '<a/>', 'a=b&c=d']) {
      if (contentType === 'application/json' && !body.startsWith('{')) continue;
      if (contentType === 'application/json') add(`no CloudEvent headers, ${contentType}: ${body}`, 400, /expected a CloudEvent/, { 'content-type': contentType }, body);
      else add(`no CloudEvent headers, ${contentType}: ${body}`, 415, /is not accepted/, { 'content-type': contentType }, body);
    }
  }
  add('no content type, no CloudEvent headers', 415, /without a content type is not accepted/, {}, good);
  // Fastify's own JSON parser answers an empty or unreadable application/json body (400).
  add('empty application/json body', 400, /empty/i, { 'content-type': 'application/json' }, '');

  // Batch mode (F7): 400 with the reason, whatever the batch holds.
  for (const body of ['[]', `[${envelope({ data: build('b') })}]`, 'not json', '{}', `[${Array(20).fill(envelope({ data: {} })).join(',')}]`]) {
    for (const contentType of ['application/cloudevents-batch+json', 'application/cloudevents-batch+json; charset=utf-8']) {
      add(`batch mode, ${contentType}: ${body.slice(0, 30)}`, 400, /batch mode .* is not supported/, { 'content-type': contentType }, body);
    }
  }

  // Binary-mode edge cases: a missing required attribute is the sender's error (400).
  for (const missing of ['ce-source', 'ce-type']) {
    const headers = binary(UPDATE);
    delete headers[missing];
    add(`binary without ${missing}`, 400, new RegExp(missing.slice(3)), headers, good);
  }
  add('binary with an empty ce-id', 400, /attribute id/, binary(UPDATE, { 'ce-id': '' }), good);
  add('binary with an empty type', 400, /type/, binary(UPDATE, { 'ce-type': '' }), good);
  for (const type of ['com.example.unknown', 'dev.knative.apiserver.resource.patch', 'dev.knative.apiserver.resource.', 'dev.knative.apiserver.resource.add.extra', 'x'.repeat(4000)]) {
    add(`unknown type ${type.slice(0, 40)}`, 400, /unknown event type/, binary(type), good);
  }
  // Reply-loop types: the function's own replies, were a Trigger to deliver them back (400).
  for (const type of ['dev.build-watcher.analysis.submitted', 'dev.build-watcher.analysis.refused', 'dev.build-watcher.sweep.completed']) {
    for (const contentType of ['application/json', 'application/octet-stream']) {
      add(`reply type ${type} (${contentType})`, 400, /unknown event type|is not accepted/, binary(type, {}, contentType), JSON.stringify({ object: build('loop'), outcome: 'submitted', images: [] }));
    }
  }
  // Extensions that disagree with the object they describe (400).
  for (const [key, value] of [['kind', 'Pod'], ['name', 'other'], ['namespace', 'kube-system']] as const) {
    add(`extension ${key}=${value} disagreeing with the data`, 400, new RegExp(`extension ${key}=`), binary(UPDATE, { [`ce-${key}`]: value }), good);
  }
  // Headers beyond Node's limit: the server answers 431 before anyone parses anything.
  add('headers over 16 KiB', 431, /header/i, binary(UPDATE, { 'ce-padding': 'x'.repeat(20_000) }), good);

  // Structured-mode edge cases.
  for (const drop of ['source', 'type']) {
    const fields = JSON.parse(envelope({ data: build('s') })) as Record<string, unknown>;
    delete fields[drop];
    add(`structured without ${drop}`, 400, new RegExp(drop), structured(fields), JSON.stringify(fields));
  }
  add('structured, data is a string of malformed JSON', 400, /event data: malformed JSON/, structured({}), envelope({ data: '{"kind": "Bu' }));
  add('structured, data_base64 of garbage', 400, /./, structured({}), envelope({ datacontenttype: undefined, data_base64: '!!!not base64!!!' }));
  add('structured, data is a number', 400, /expected a Kubernetes object/, structured({}), envelope({ data: 42 }));
  add('structured, data is null', 400, /object/, structured({}), envelope({ data: null }));
  add('structured, an array', 400, /./, structured({}), '[1,2,3]');
  add('structured, a bare string', 400, /./, structured({}), '"hello"');
  add('structured, unknown type', 400, /unknown event type/, structured({}), envelope({ type: 'evil.type', data: build('s') }));

  // Invalid and truncated JSON, in each way a body reaches a parser (400).
  const text = JSON.stringify(build('truncated'));
  for (let cut = 1; cut < text.length; cut += Math.ceil(text.length / 25)) {
    add(`binary application/json truncated at ${cut}`, 400, /JSON|Unexpected|Unterminated|position/i, binary(UPDATE), text.slice(0, cut));
    add(`binary octet-stream truncated at ${cut}`, 400, /is not accepted/, binary(UPDATE, {}, 'application/octet-stream'), text.slice(0, cut));
    add(`structured truncated at ${cut}`, 400, /malformed JSON|Unexpected|Unterminated|position/i, { 'content-type': 'application/cloudevents+json' }, envelope({ data: build('truncated') }).slice(0, cut));
  }
  for (const garbage of ['{', '}', '{"a":}', "{'a':1}", '{"a":1,}', 'NaN', '\u0000', '\ufeff{}', '{"a":"\\x"}', '{"a":01}']) {
    add(`invalid JSON ${JSON.stringify(garbage)} (octet-stream)`, 400, /malformed JSON|expected a Kubernetes object|./, binary(UPDATE, {}, 'application/octet-stream'), garbage);
  }

  // Deep nesting and width: refused before parsing, in every content mode (400).
  for (const shape of HOSTILE_SHAPES.filter((s) => s.refusedUnparsed)) {
    for (const [mode, headers] of [['application/json', binary(UPDATE)], ['octet-stream', binary(UPDATE, {}, 'application/octet-stream')], ['text/plain', binary(UPDATE, {}, 'text/plain')]] as const) {
      add(`${shape.name}, ${mode}`, 400, /JSON nested deeper than|JSON with more than|is not accepted/, headers, shape.body(bodyLimit));
    }
    add(`${shape.name}, structured`, 400, /JSON nested deeper than|JSON with more than/, { 'content-type': 'application/cloudevents+json' }, shape.body(bodyLimit));
  }
  add(`nesting of ${MAX_JSON_DEPTH + 1} levels`, 400, /nested deeper/, binary(UPDATE), '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1));
  add(`${MAX_JSON_TOKENS + 1} values`, 400, /more than/, binary(UPDATE), `[${Array(MAX_JSON_TOKENS + 1).fill('0').join(',')}]`);
  // The worst shapes still parsed: they reach the function, which finds no object in them (400).
  for (const shape of HOSTILE_SHAPES.filter((s) => !s.refusedUnparsed)) {
    add(`${shape.name}, application/json`, 400, /object\.apiVersion|expected a Kubernetes object/, binary(UPDATE), shape.body(bodyLimit));
  }
  add('a body over FUNC_BODY_LIMIT', 413, /too large/i, binary(UPDATE), `{"pad":"${'x'.repeat(bodyLimit)}"}`);

  // __proto__ and constructor payloads: Fastify's parser refuses them (400); elsewhere they stay
  // plain own keys and the object still lacks what a Build needs (400).
  for (const payload of ['{"__proto__":{"apiVersion":"build.openshift.io/v1","kind":"Build"}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"metadata":{"__proto__":{"name":"x"}}}']) {
    add(`prototype payload, application/json: ${payload}`, 400, /forbidden prototype property|object\.apiVersion/, binary(UPDATE), payload);
    add(`prototype payload, octet-stream: ${payload}`, 400, /is not accepted/, binary(UPDATE, {}, 'application/octet-stream'), payload);
    add(`prototype payload, structured data: ${payload}`, 400, /object\.apiVersion|metadata/, structured({}), `${envelope({}).slice(0, -1)},"data":${payload}}`);
  }
  add('prototype in the structured envelope', 400, /./, structured({}), `{"__proto__":{"type":"${UPDATE}","specversion":"1.0","id":"x","source":"/x"},"data":${good}}`);

  // Absurd field values (400; an object of another kind 422).
  const absurd: unknown[] = [null, [], {}, 0, -1, 1e308, true, '', 'x'.repeat(100_000), '\u0000', '../../etc/passwd'];
  for (const field of ['apiVersion', 'metadata.name', 'metadata.namespace', 'status.phase']) {
    for (const value of absurd) {
      // Another apiVersion string is a different kind of object: 422 below.
      if (field === 'apiVersion' && typeof value === 'string' && value !== '') continue;
      // No phase yet is a New Build: acknowledged, not refused.
      if (field === 'status.phase' && (value === null || value === '')) continue;
      add(`${field} = ${JSON.stringify(value)?.slice(0, 20)}`, 400, new RegExp(field.replace('.', '\\.')), binary(UPDATE), JSON.stringify(withValue(build('absurd'), field, value)));
    }
  }
  for (const value of ['md5:abc', 'sha256:' + 'z'.repeat(64), 'sha256:', 'x'.repeat(10_000)]) {
    add(`imageDigest = ${value.slice(0, 20)}`, 400, /imageDigest/, binary(UPDATE), JSON.stringify(withValue(build('digest', 'Complete'), 'status.output', { to: { imageDigest: value } })));
  }
  for (const [apiVersion, kind] of [['v1', 'Pod'], ['v1', 'Secret'], ['apps/v1', 'Deployment'], ['build.openshift.io/v1', 'BuildConfig'], ['x'.repeat(300), 'Build']] as const) {
    add(`object ${apiVersion.slice(0, 20)}/${kind}`, 422, /unsupported object/, binary(UPDATE), JSON.stringify({ ...build('other'), apiVersion, kind }));
  }
  // References and sweeps need the API server, which this setup has none of (422).
  add('reference-mode event', 422, /reference/, binary('dev.knative.apiserver.ref.update'), JSON.stringify({ apiVersion: 'build.openshift.io/v1', kind: 'Build', name: 'r', namespace: 'myproject' }));
  return list;
}

describe('hostile input through faas-js-runtime', () => {
  let thoth: ThothStub;
  let fn: RunningFunction & { readonly process: import('node:child_process').ChildProcess };
  let port: number;
  let bodyLimit: number;
  let goodEvents = 0;

  before(async () => {
    const func = parse(await readFile(path.join(ROOT, 'func.yaml'), 'utf8')) as { run: { envs: { name: string; value: string }[] } };
    bodyLimit = Number(func.run.envs.find((env) => env.name === 'FUNC_BODY_LIMIT')?.value);
    thoth = await ThothStub.start({});
    fn = await startFunction({ env: { THOTH_USER_API_HOST: thoth.url, BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1', THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1', FUNC_BODY_LIMIT: String(bodyLimit) } });
    port = Number(new URL(fn.url).port);
  });

  after(async () => {
    await fn?.stop();
    await thoth?.close();
  });

  /** A good event is still processed: a Running Build is acknowledged (204) and counted. */
  async function goodEventProcessed(): Promise<void> {
    goodEvents++;
    const counted = await metricTotal(fn.url, /decision="ignored:not-finished"/);
    const answer = await send(port, binary(UPDATE, { 'ce-kind': 'Build', 'ce-name': `good-${goodEvents}`, 'ce-namespace': 'myproject' }), JSON.stringify(build(`good-${goodEvents}`)));
    assert.equal(answer.status, 204, answer.body);
    assert.equal(await metricTotal(fn.url, /decision="ignored:not-finished"/), counted + 1);
  }

  function assertOneLine(name: string, answer: Sent, status: number, reason: RegExp): void {
    assert.equal(answer.status, status, `${name}: ${answer.body.slice(0, 300)}`);
    const line = answer.body.trim();
    assert.ok(line.length > 0 && !line.includes('\n'), `${name}: not one line: ${answer.body.slice(0, 300)}`);
    assert.match(line, reason, name);
  }

  it('answers at least 250 malformed or hostile requests with the 4xx each case names, one line each, and keeps processing', async () => {
    // Slow bodies first, so their deadline runs while everything else is sent: a body that stops
    // after its first bytes, one that drips a byte at a time, one chunked that never ends (408).
    const slow = [
      sendSlowly(port, { ...binary(UPDATE), 'content-length': '5000' }, '{"apiVersion":', false),
      sendSlowly(port, { ...binary(UPDATE), 'content-length': '100000' }, '{', true),
      sendSlowly(port, { ...binary(UPDATE), 'transfer-encoding': 'chunked' }, '{"kind":', false),
      sendSlowly(port, { 'content-type': 'application/cloudevents+json', 'content-length': '5000' }, '{"specversion":"1.0",', true),
    ];
    const list = cases(bodyLimit);
    let sent = 0;
    for (let i = 0; i < list.length; i += 25) {
      for (const c of list.slice(i, i + 25)) {
        // A body refused by its declared length or its headers is answered, and the connection closed, while
        // the rest would still be written (EPIPE on a busy machine): offer its start, read the answer.
        const bytes = typeof c.body === 'string' ? Buffer.from(c.body) : c.body;
        const answer =
          c.status === 413 || (bytes.length > 64 * 1024 && requestRefusal({ ...c.headers, 'content-length': String(bytes.length) }) !== undefined)
            ? await sendSlowly(port, { ...c.headers, 'content-length': String(bytes.length) }, bytes.subarray(0, 64 * 1024).toString('latin1'), false)
            : await send(port, c.headers, c.body).catch((error: unknown) => { throw new Error(`${c.name}: ${String(error)}`); });
        assertOneLine(c.name, answer, c.status, c.reason);
        sent++;
      }
      await goodEventProcessed();
    }
    // Sweep floods: 40 at once, alternately the PingSource's type and the function's own (422 here).
    const flood = await Promise.all(
      Array.from({ length: 40 }, (_, i) => send(port, binary(i % 2 === 0 ? 'dev.knative.sources.ping' : 'dev.build-watcher.sweep.requested'), '{}')),
    );
    for (const answer of flood) assertOneLine('sweep flood', answer, 422, /sweep reads the API server/);
    sent += flood.length;
    await goodEventProcessed();

    const slowAnswers = await Promise.all(slow);
    for (const answer of slowAnswers) assertOneLine('slow body', answer, 408, new RegExp(`request body not received within ${REQUEST_BODY_DEADLINE_MS / 1000} s`));
    sent += slowAnswers.length;
    await goodEventProcessed();

    assert.ok(sent >= 250, `only ${sent} hostile requests`);
    assert.equal(fn.process.exitCode, null, 'the function is still running');
    assert.equal(fn.process.signalCode, null, 'the function is still running');
    const unhandled = fn.lines.filter((line) => /unhandled|uncaught|ERR_UNHANDLED|FATAL/i.test(line));
    assert.deepEqual(unhandled, [], 'no unhandled rejection or exception');
    const functionErrors = fn.lines.filter((line) => /Error processing user function/.test(line));
    assert.deepEqual(functionErrors, [], 'no request reached the runtime as a thrown error');
  });
});

/**
 * Issue 20, intake: what reaches a parser is bounded whatever the content type (a 256 MiB form body once killed the process
 * with status 0 and nothing logged), a CloudEvent's envelope is checked as CloudEvents 1.0, a refused request logs one info
 * line and no stack, and an uncaught error ends the process non-zero with one line saying why.
 */
describe('hostile input, intake (issue 20)', () => {
  const MiB = 1024 * 1024;
  const SECRET = 's3cr3t-intake-token';
  let fn: RunningFunction & { readonly process: import('node:child_process').ChildProcess };
  let port: number;
  let goodEvents = 0;

  before(async () => {
    fn = await startFunction({ env: { THOTH_USER_API_HOST: 'http://127.0.0.1:9', BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1', FUNC_BODY_LIMIT: String(4 * MiB) } });
    port = Number(new URL(fn.url).port);
  });

  after(async () => {
    await fn?.stop();
  });

  async function goodEventProcessed(): Promise<void> {
    goodEvents++;
    const name = `intake-good-${goodEvents}`;
    const answer = await send(port, binary(UPDATE, { 'ce-kind': 'Build', 'ce-name': name, 'ce-namespace': 'myproject' }), JSON.stringify(build(name)));
    assert.equal(answer.status, 204, answer.body);
    assert.equal(fn.process.exitCode, null, 'the function is still running');
  }

  /**
   * `size` bytes, streamed (never held whole), with Content-Length or chunked; the answer once read. The function answers a
   * refused body from its headers and closes the connection while this still writes: the write may then fail before the
   * answer is read (status 0), and the function's log line for the refusal stands for the answer.
   */
  function sendHuge(headers: Readonly<Record<string, string>>, size: number, chunked: boolean): Promise<Sent> {
    return new Promise((resolve) => {
      const framing = chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(size) };
      const req = http.request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent: false, headers: { ...headers, ...framing } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (part: string) => (text += part));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: text });
        });
      });
      req.on('error', (error) => resolve({ status: 0, body: error.message }));
      const chunk = Buffer.alloc(MiB, 'a=b&');
      let written = 0;
      const pump = (): void => {
        while (written < size && !req.destroyed) {
          written += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!req.destroyed) req.end();
      };
      pump();
    });
  }

  const refusalsLogged = (status: number, reason: RegExp): number =>
    fn.lines.filter((line) => line.includes(`"statusCode":${status}`) && /rejected request/.test(line) && reason.test(line.replaceAll('\\"', '"'))).length;

  /** A huge body's answer, or (when the connection closed first) one more log line saying why. */
  async function hugeRefused(name: string, headers: Readonly<Record<string, string>>, size: number, chunked: boolean, status: number, reason: RegExp): Promise<void> {
    const before = refusalsLogged(status, reason);
    const answer = await sendHuge(headers, size, chunked);
    if (answer.status !== 0) return assertOneLine(name, answer, status, reason);
    await waitFor(async () => (refusalsLogged(status, reason) > before ? true : undefined), { what: `${name}: a refusal (${answer.body})`, timeoutMs: 10_000, intervalMs: 20 });
  }

  function assertOneLine(name: string, answer: Sent, status: number, reason: RegExp): void {
    assert.equal(answer.status, status, `${name}: ${answer.body.slice(0, 300)}`);
    const line = answer.body.trim();
    assert.ok(line.length > 0 && !line.includes('\n'), `${name}: not one line: ${answer.body.slice(0, 300)}`);
    // Refusals before the function come as Fastify's `{statusCode, error, message}`.
    assert.match(line.startsWith('{') ? (JSON.parse(line) as { message: string }).message : line, reason, name);
  }

  it('answers a 256 MiB form body 415 from its headers, with Content-Length and chunked, and keeps processing', async () => {
    for (const chunked of [false, true]) {
      const name = `form, ${chunked ? 'chunked' : 'content-length'}`;
      await hugeRefused(name, { 'content-type': 'application/x-www-form-urlencoded' }, 256 * MiB, chunked, 415, /content type "application\/x-www-form-urlencoded" is not accepted/);
      await goodEventProcessed();
    }
    // Every other type the runtime would read: 415 (400 when it claims to be a CloudEvent), the body never parsed.
    for (const [headers, status] of [
      [{ 'content-type': 'text/plain' }, 415], [{ 'content-type': 'application/octet-stream' }, 415], [{ 'content-type': 'multipart/form-data; boundary=x' }, 415],
      [{}, 415], [{ ...binary(UPDATE), 'content-type': 'application/x-www-form-urlencoded' }, 400],
    ] as const) {
      for (const chunked of [false, true]) await hugeRefused(JSON.stringify(headers), headers, 16 * MiB, chunked, status, /is not accepted/);
    }
    // The types that reach a parser stop at FUNC_BODY_LIMIT, chunked too.
    for (const headers of [binary(UPDATE), { 'content-type': 'application/cloudevents+json' }]) {
      await hugeRefused(`${headers['content-type']}, chunked past the limit`, headers, 64 * MiB, true, 413, /too large/i);
    }
    await goodEventProcessed();
  });

  it(`answers each of ${INVALID_ENVELOPES.length} invalid CloudEvent envelopes 400 with one line, and passes valid ones from every real sender`, async () => {
    assert.ok(INVALID_ENVELOPES.length >= 16);
    for (const c of INVALID_ENVELOPES) assertOneLine(c.name, await send(port, c.headers, c.body), 400, c.reason);
    await goodEventProcessed();
    for (const c of VALID_ENVELOPES) {
      const answer = await send(port, c.headers, c.body);
      assert.equal(answer.status, c.status, `${c.name}: ${answer.body.slice(0, 300)}`);
    }
    await goodEventProcessed();
  });

  it('logs one info line for each refused request, and no error-level line or stack trace', async () => {
    const refused = [
      await send(port, binary(UPDATE), '{"kind": "Bu'),
      await send(port, { 'content-type': 'application/cloudevents+json' }, '{"specversion":'),
      await send(port, binary(UPDATE), `[${Array(MAX_JSON_TOKENS + 1).fill('0').join(',')}]`),
      await send(port, { 'content-type': 'application/cloudevents-batch+json' }, '[]'),
      ...(await Promise.all(INVALID_ENVELOPES.slice(0, 8).map((c) => send(port, c.headers, c.body)))),
    ];
    await goodEventProcessed();
    for (const answer of refused) {
      const message = (JSON.parse(answer.body) as { message: string }).message;
      const logged = fn.lines.filter((line) => line.includes(JSON.stringify(`rejected request: ${message}`).slice(1, -1)));
      assert.ok(logged.length >= 1, `no log line for: ${message}`);
      for (const line of logged) assert.equal((JSON.parse(line) as { level: number }).level, 30, line);
    }
    const bad = fn.lines.filter((line) => /"level":(?:[4-6]\d)|execTimer|\\n\s+at |^\s+at /.test(line));
    assert.deepEqual(bad, [], 'no warning or error line, no stack trace');
  });

  for (const failure of ['exception', 'rejection'] as const) {
    it(`exits 70 with one line saying why after an uncaught ${failure}`, async () => {
      const fixture = path.join(ROOT, 'test/function/fixtures/fail-on-signal.mjs');
      const failing = await startFunction({
        env: { THOTH_USER_API_HOST: 'http://127.0.0.1:9', BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1', NODE_OPTIONS: `--import=${fixture}`, FORCED_FAILURE: failure,
          THOTH_DST_REGISTRY_USER: 'pusher', THOTH_DST_REGISTRY_PASSWORD: SECRET, THOTH_DST_REGISTRY_REPOSITORIES: 'registry.example/{namespace}' },
      });
      try {
        const exited = new Promise<number | null>((resolve) => failing.process.once('exit', (code) => resolve(code)));
        failing.process.kill('SIGUSR2');
        assert.equal(await exited, 70);
        const said = failing.lines.filter((line) => /exiting with status 70/.test(line));
        assert.equal(said.length, 1, failing.lines.join('\n'));
        assert.match(said[0] ?? '', failure === 'exception' ? /uncaught exception: TypeError: forced uncaught exception/ : /unhandled rejection: Error: forced rejection/);
        assert.ok(!failing.lines.join('\n').includes(SECRET), 'the secret never appears');
      } finally {
        await failing.stop();
      }
    });
  }
});
