import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { BuildWatcherError } from '../errors.js';
import { ThothClient } from './client.js';
import { SubmissionOutcomeUnknown } from './failure.js';
import type { ThothClientOptions, ThothRequestObservation } from './client.js';

const PASSWORD = 'registry-password-7c1f2e';
const ROUTES = { paths: ['/api/v1', '/api/v1/analyze', '/api/v1/analyze/<analysis_id>/status', '/api/v1/build-analysis'] };
const ID = 'package-extract-260101120000-0123456789abcdef';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}
type Reply = { status: number; json?: unknown; text?: string; headers?: Record<string, string> } | 'hang' | 'reset';

/** A server that answers from a script, so each test says exactly what Thoth does. */
class ScriptedThoth {
  readonly seen: Seen[] = [];
  script: (request: Seen) => Reply = () => ({ status: 500 });
  readonly #server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const seen = { method: request.method ?? '', url: request.url ?? '', body: Buffer.concat(chunks).toString() };
      this.seen.push(seen);
      const reply = seen.url === '/api/v1' ? { status: 200, json: ROUTES } : this.script(seen);
      if (reply === 'hang') return;
      if (reply === 'reset') {
        request.socket.destroy();
        return;
      }
      const text = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.text ?? '');
      response.writeHead(reply.status, { 'Content-Type': 'application/json', ...reply.headers });
      response.end(text);
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
  posts(): Seen[] {
    return this.seen.filter((seen) => seen.method === 'POST');
  }
}

const thoth = new ScriptedThoth();
const clients: ThothClient[] = [];
before(() => thoth.start());
after(async () => {
  for (const client of clients) client.close();
  await thoth.stop();
});
beforeEach(() => {
  thoth.seen.length = 0;
});

function client(options: Partial<ThothClientOptions> = {}): ThothClient {
  const created = new ThothClient({
    host: thoth.url,
    timeoutMs: 2_000,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    random: () => 0,
    ...options,
  });
  clients.push(created);
  return created;
}

const accepted = {
  status: 202,
  json: {
    base_image_analysis: null,
    output_image_analysis: { analysis_id: ID, cached: false, parameters: { output_image: 'r/a@sha256:x' } },
    buildlog_analysis: { analysis_id: 'buildlog-parser-260101120000-0123456789abcdef', cached: false },
    buildlog_document_id: null,
  },
};

const output = { image: 'registry.test:5000/ns/app@sha256:' + 'e'.repeat(64), credentials: { username: 'builder', password: PASSWORD }, verifyTls: false };

async function rejection(promise: Promise<unknown>): Promise<BuildWatcherError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof BuildWatcherError, `expected a BuildWatcherError, got ${inspect(error)}`);
    const everything = inspect(error, { depth: 10, showHidden: true });
    assert.ok(!everything.includes(PASSWORD), `the password leaked: ${everything}`);
    assert.ok(!everything.includes('registry_password'), `the query leaked: ${everything}`);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('ThothClient', () => {
  it('discovers once, then sends only the parameters that are set', async () => {
    thoth.script = () => accepted;
    const thothClient = client();
    const result = await thothClient.submitBuildAnalysis({ output, environmentType: 'buildtime', origin: 'ns' });
    await thothClient.submitBuildAnalysis({ output });
    assert.deepEqual(result, { output: { analysisId: ID, cached: false }, logBytesCut: 0 });
    assert.equal(thoth.seen.filter((seen) => seen.url === '/api/v1').length, 1);
    const [first, second] = thoth.posts();
    const query = new URL(first?.url ?? '', 'http://x').searchParams;
    assert.deepEqual([...query.keys()].sort(), [
      'environment_type',
      'origin',
      'output_registry_password',
      'output_registry_user',
      'output_registry_verify_tls',
    ]);
    assert.equal(query.get('output_registry_password'), PASSWORD);
    assert.equal(query.get('output_registry_verify_tls'), 'false');
    assert.deepEqual(JSON.parse(first?.body ?? ''), { output_image: output.image });
    assert.equal(new URL(second?.url ?? '', 'http://x').searchParams.has('origin'), false);
  });

  it('sends the build log as a BuildLog object and reports its ticket', async () => {
    thoth.script = () => ({
      status: 202,
      json: { ...accepted.json, buildlog_document_id: 'buildlog-1', buildlog_analysis: { analysis_id: 'buildlog-parser-260101120000-00000000000000a1', cached: true } },
    });
    const result = await client().submitBuildAnalysis({ buildLog: { log: 'error: boom\n', apiVersion: '/apis/build.openshift.io/v1/namespaces/ns/builds/b-1' } });
    assert.deepEqual(JSON.parse(thoth.posts()[0]?.body ?? ''), {
      build_log: { log: 'error: boom\n', apiversion: '/apis/build.openshift.io/v1/namespaces/ns/builds/b-1', kind: 'BuildLog' },
    });
    assert.deepEqual(result.buildLog, { analysisId: 'buildlog-parser-260101120000-00000000000000a1', cached: true });
    assert.equal(result.buildLogDocumentId, 'buildlog-1');
  });

  it('retries 503 and 500 with backoff, observing every attempt', async () => {
    const observations: ThothRequestObservation[] = [];
    let posts = 0;
    thoth.script = () => (++posts < 3 ? { status: posts === 1 ? 503 : 500, text: '<html>unavailable</html>' } : accepted);
    const result = await client({ onRequest: (observation) => observations.push(observation) }).submitBuildAnalysis({ output });
    assert.equal(result.output?.analysisId, ID);
    assert.equal(thoth.posts().length, 3);
    assert.deepEqual(
      observations.map(({ endpoint, status }) => `${endpoint} ${status}`),
      ['discovery 200', 'build-analysis 503', 'build-analysis 500', 'build-analysis 202'],
    );
    assert.ok(observations.every((observation) => observation.seconds >= 0 && observation.seconds < 5));
  });

  it('gives up after the attempts with a transient error', async () => {
    thoth.script = () => ({ status: 503, headers: { 'Retry-After': '0' } });
    const error = await rejection(client().submitBuildAnalysis({ output }));
    assert.equal(error.kind, 'transient');
    assert.equal(error.message, 'Thoth build-analysis failed after 3 attempts: last answer 503');
    assert.equal(thoth.posts().length, 3);
  });

  it('does not retry a 4xx and says which image was refused, without the password', async () => {
    thoth.script = () => ({
      status: 403,
      json: {
        error: 'There was an error accessing the image as the username/password provided was invalid',
        parameters: { image: output.image, registry_user: 'builder', registry_password: PASSWORD, verify_tls: false },
      },
    });
    const error = await rejection(client().submitBuildAnalysis({ output, base: { image: 'quay.io/x/base:1' } }));
    assert.equal(error.kind, 'refused');
    assert.equal(
      error.message,
      'Thoth refused the output image: 403 credentials refused (There was an error accessing the image as the username/password provided was invalid)',
    );
    assert.equal(error.cause, undefined);
    assert.equal(thoth.posts().length, 1);
  });

  it('sends a submission that may have reached Thoth once: a timeout or a reset ends the call, reported ambiguous', async () => {
    const observations: ThothRequestObservation[] = [];
    for (const [reply, problem] of [['hang', 'timed out after 0.15 s'], ['reset', 'ECONNRESET after the connection opened']] as const) {
      thoth.seen.length = 0;
      thoth.script = () => reply;
      const thothClient = client({ timeoutMs: 150, onRequest: (observation) => observations.push(observation) });
      const error = await rejection(thothClient.submitImageAnalysis({ image: 'r/a:1', credentials: { username: 'u', password: PASSWORD } }));
      assert.ok(error instanceof SubmissionOutcomeUnknown);
      assert.equal(error.kind, 'transient');
      assert.equal(error.message, `Thoth analyze outcome unknown: ${problem}; not re-sent`);
      assert.equal(thoth.posts().length, 1);
    }
    // Discovery may time out on a loaded machine too: a GET, retried, never ambiguous.
    const described = observations.map(({ endpoint, status, ambiguous }) => `${endpoint} ${status} ${ambiguous}`);
    assert.deepEqual(described.filter((line) => !line.startsWith('discovery')), ['analyze timeout true', 'analyze network true']);
    assert.ok(described.filter((line) => line.startsWith('discovery')).every((line) => line.endsWith(' false')));
  });

  it('stops at once when the caller aborts', async () => {
    thoth.script = () => 'hang';
    const controller = new AbortController();
    const submission = client({ timeoutMs: 60_000 }).submitBuildAnalysis({ output }, controller.signal);
    const deadline = Date.now() + 2_000;
    while (thoth.posts().length === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const error = await rejection(submission);
    assert.equal(error.kind, 'transient');
    assert.equal(error.message, 'Thoth build-analysis request aborted');
    assert.equal(thoth.posts().length, 1);
  });

  it('refuses an already aborted request without sending it', async () => {
    thoth.script = () => accepted;
    const error = await rejection(client().submitBuildAnalysis({ output }, AbortSignal.abort()));
    assert.equal(error.kind, 'transient');
    assert.equal(thoth.posts().length, 0);
  });

  it('treats an unexpected 202 body as transient', async () => {
    thoth.script = () => ({ status: 202, json: { output_image_analysis: { analysis_id: 5 } } });
    const error = await rejection(client().submitBuildAnalysis({ output }));
    assert.equal(error.kind, 'transient');
    assert.match(error.message, /unexpected body: output_image_analysis\.analysis_id/);
    assert.equal(thoth.posts().length, 1);
  });

  it('never follows a redirect', async () => {
    thoth.script = () => ({ status: 302, headers: { Location: 'http://127.0.0.1:1/elsewhere' } });
    const error = await rejection(client().submitBuildAnalysis({ output }));
    assert.equal(error.kind, 'refused');
    assert.match(error.message, /302 \(a redirect\)/);
  });

  it('rejects a request with nothing in it before sending', async () => {
    const error = await rejection(client().submitBuildAnalysis({}));
    assert.equal(error.kind, 'invalid');
    assert.equal(thoth.seen.length, 0);
  });

  it('rejects bad options with what it received', () => {
    assert.throws(() => new ThothClient({ host: 'x', timeoutMs: 0 }), /received 0/);
    assert.throws(() => new ThothClient({ host: 'x', caBundleFile: '/nonexistent/ca.pem' }), /ENOENT/);
    assert.throws(() => new ThothClient({ host: 'ftp://x' }), TypeError);
  });
});

describe('ThothClient discovery', () => {
  it('refuses a host that is not a Thoth User API, and discovers again next time', async () => {
    const other = http.createServer((_, response) => {
      response.writeHead(404, { 'Content-Type': 'text/html' }).end('<h1>Not Found</h1>');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    let requests = 0;
    other.on('request', () => (requests += 1));
    try {
      const thothClient = client({ host: `http://127.0.0.1:${(other.address() as AddressInfo).port}` });
      const first = await rejection(thothClient.submitImageAnalysis({ image: 'r/a:1' }));
      assert.equal(first.kind, 'refused');
      assert.equal(first.message, 'Thoth User API not supported at this host: discovery answered 404');
      await rejection(thothClient.submitImageAnalysis({ image: 'r/a:1' }));
      assert.equal(requests, 2, 'a failed discovery is not cached');
    } finally {
      other.closeAllConnections();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('reports a refused connection as transient, naming the code only', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await rejection(
      client({ host: `http://127.0.0.1:${port}` }).submitImageAnalysis({ image: 'r/a:1', credentials: { username: 'u', password: PASSWORD } }),
    );
    assert.equal(error.kind, 'transient');
    assert.equal(error.message, 'Thoth discovery failed after 3 attempts: ECONNREFUSED');
  });
});
