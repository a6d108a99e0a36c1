/**
 * What the Thoth client sends again (functions/thoth/resend.ts): a submission Thoth may have
 * accepted never; one it provably did not take, and every GET, under the retry policy. Each
 * case counts the requests that reached the stand-in, and the metric the function exports.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { BuildWatcherError } from '../../functions/errors.js';
import { observeThothRequest, thothAmbiguousSubmissions } from '../../functions/observability/metrics.js';
import { ThothClient } from '../../functions/thoth/client.js';
import type { ThothClientOptions, ThothRequestObservation } from '../../functions/thoth/client.js';
import { SubmissionOutcomeUnknown } from '../../functions/thoth/failure.js';
import { waitFor } from '../harness/wait.js';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import type { PushedImage, RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from './thoth-stub.js';

/** Thoth behind an address of its own, one connection per request, so it can be taken down. */
function front(target: string): http.Server {
  return http.createServer((request, response) => {
    const upstream = http.request(new URL(request.url ?? '/', target), { method: request.method, headers: request.headers, agent: false }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, { ...answer.headers, connection: 'close' });
      answer.pipe(response);
    });
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
  });
}

describe('ThothClient: what it sends to Thoth again', () => {
  let registry: RunningRegistry;
  let image: PushedImage;
  let thoth: ThothStub;
  const clients: ThothClient[] = [];
  const servers: http.Server[] = [];

  before(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    image = await pushTestImage(registry, { repository: 'ns/app', tag: 'v1', layerSizes: [512] });
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
  });
  after(async () => {
    for (const client of clients) client.close();
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    await thoth?.close();
    await registry?.stop();
  });

  const password = () => registry.credentials?.password ?? assert.fail('the registry has credentials');
  const output = () => ({ image: `${registry.host}/ns/app@${image.digest}`, credentials: registry.credentials ?? assert.fail('credentials') });
  const build = () => ({ output: output(), buildLog: { log: 'STEP 1/1: FROM scratch\n', apiVersion: 'build.openshift.io/v1', metadata: 'ns/app-1' } });
  /** As functions/wiring.ts builds it, every attempt reported to the function's metrics; `seen` and `also` see them too. */
  const client = (options: Partial<ThothClientOptions> = {}, seen: ThothRequestObservation[] = [], also?: (observation: ThothRequestObservation) => void) => {
    const created = new ThothClient({
      host: thoth.url,
      timeoutMs: 5_000,
      retry: { attempts: 4, baseDelayMs: 2, maxDelayMs: 10 },
      onRequest: (observation) => {
        seen.push(observation);
        also?.(observation);
        observeThothRequest(observation);
      },
      ...options,
    });
    clients.push(created);
    return created;
  };
  const ambiguous = async (endpoint: string) =>
    (await thothAmbiguousSubmissions.get()).values.find((value) => value.labels.endpoint === endpoint)?.value ?? 0;
  const posts = (from: number) => thoth.requests.slice(from).filter((request) => request.method === 'POST').map((request) => request.status);
  const described = (seen: readonly ThothRequestObservation[]) => seen.map(({ endpoint, status, ambiguous }) => `${endpoint} ${status}${ambiguous ? ' ambiguous' : ''}`);

  /** The call's error, a BuildWatcherError that carries no password, query or URL. */
  async function failure(call: Promise<unknown>): Promise<BuildWatcherError> {
    const error = await call.then(() => assert.fail('expected the submission to fail'), (error: unknown) => error);
    const everything = inspect(error, { depth: Infinity, showHidden: true, getters: true });
    for (const leak of [password(), 'registry_password', thoth.url]) assert.ok(!everything.includes(leak), `leaked in: ${everything}`);
    assert.ok(error instanceof BuildWatcherError, everything);
    return error;
  }
  function assertUnknown(error: BuildWatcherError, message: string): void {
    assert.ok(error instanceof SubmissionOutcomeUnknown, 'callers can tell it from a failure');
    assert.equal(error.kind, 'transient', 'the delivery is answered 503 and comes back');
    assert.equal(error.status, 503);
    assert.equal(error.message, message);
  }

  it("Thoth answers 202 after the client's timeout: 1 POST, outcome unknown, counted; the next delivery's re-send is answered from the cache", async () => {
    const from = thoth.requests.length;
    const have = thoth.submissions.length;
    const counted = await ambiguous('build-analysis');
    thoth.holdNext(1);
    const error = await failure(client({ timeoutMs: 300 }).submitBuildAnalysis(build()));
    assertUnknown(error, 'Thoth build-analysis outcome unknown: timed out after 0.3 s; not re-sent');
    const [accepted] = (await thoth.awaitSubmissions(have + 1)).slice(have);
    await waitFor(async () => (posts(from).length > 0 ? true : undefined), { what: 'the POST recorded', timeoutMs: 5_000, intervalMs: 5 });
    thoth.releaseHeld();
    assert.deepEqual(posts(from), [202], 'Thoth took it, once');
    assert.equal(await ambiguous('build-analysis'), counted + 1);

    // What the next delivery of the object does: the same request, sent again.
    const again = await client().submitBuildAnalysis(build());
    const first = accepted?.response['output_image_analysis'] as { analysis_id: string } | undefined;
    assert.deepEqual(again.output, { analysisId: first?.analysis_id, cached: true }, 'the same analysis, from the cache');
    assert.notEqual(again.buildLogDocumentId, accepted?.response['buildlog_document_id'], 'the log is stored again');
    assert.deepEqual(posts(from), [202, 202]);
  });

  it('the connection is reset once the request was sent: 1 POST, not sent again', async () => {
    const from = thoth.requests.length;
    const counted = await ambiguous('analyze');
    thoth.resetNext(1);
    const error = await failure(client().submitImageAnalysis(output()));
    assertUnknown(error, 'Thoth analyze outcome unknown: ECONNRESET after the connection opened; not re-sent');
    assert.deepEqual(posts(from), ['reset']);
    assert.equal(await ambiguous('analyze'), counted + 1);
  });

  for (const status of [502, 504]) {
    it(`a gateway answers ${status}: 1 POST, not sent again`, async () => {
      const from = thoth.requests.length;
      const counted = await ambiguous('build-analysis');
      thoth.failNext(1, { status });
      const error = await failure(client().submitBuildAnalysis(build()));
      assertUnknown(error, `Thoth build-analysis outcome unknown: answered ${status}; not re-sent`);
      assert.deepEqual(posts(from), [status]);
      assert.equal(await ambiguous('build-analysis'), counted + 1);
    });
  }

  it('503 then 202: sent again, accepted; 503 then 504: sent again once, then not', async () => {
    const from = thoth.requests.length;
    const counted = await ambiguous('build-analysis');
    thoth.failNext(1, { status: 503 });
    assert.ok((await client().submitBuildAnalysis(build())).output !== undefined);
    assert.deepEqual(posts(from), [503, 202]);
    assert.equal(await ambiguous('build-analysis'), counted, 'a 503 is a plain no');

    thoth.failNext(1, { status: 503 });
    thoth.failNext(1, { status: 504 });
    assertUnknown(await failure(client().submitBuildAnalysis(build())), 'Thoth build-analysis outcome unknown: answered 504; not re-sent');
    assert.deepEqual(posts(from), [503, 202, 503, 504]);
  });

  it('a refused connection is tried again once Thoth is up: 1 POST, accepted, nothing ambiguous', async () => {
    const down = front(thoth.url);
    const up = front(thoth.url);
    servers.push(down, up);
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    const { port } = down.address() as AddressInfo;
    const seen: ThothRequestObservation[] = [];
    const from = thoth.requests.length;
    // Discovery goes through; then Thoth's address refuses connections until the client has
    // seen one refused. listen() without a host binds at once, before the client's backoff ends.
    const ticket = await client({ host: `http://127.0.0.1:${port}` }, seen, (observation) => {
      if (observation.endpoint === 'discovery') down.close();
      if (observation.status === 'network') up.listen(port);
    }).submitImageAnalysis(output());
    assert.match(ticket.analysisId, /^package-extract-/);
    assert.deepEqual(described(seen), ['discovery 200', 'analyze network', 'analyze 202']);
    assert.equal(seen.filter((observation) => observation.ambiguous === false).length, 3);
    assert.deepEqual(posts(from), [202], 'the refused attempt never reached Thoth');
  });

  it('discovery (a GET) is sent again after a timeout; the submission after it is not', async () => {
    const from = thoth.requests.length;
    const seen: ThothRequestObservation[] = [];
    thoth.stallNext(1, 'discovery');
    thoth.holdNext(1);
    const error = await failure(client({ timeoutMs: 1_000 }, seen).submitImageAnalysis(output()));
    assertUnknown(error, 'Thoth analyze outcome unknown: timed out after 1 s; not re-sent');
    assert.deepEqual(described(seen), ['discovery timeout', 'discovery 200', 'analyze timeout ambiguous']);
    await waitFor(async () => (posts(from).length > 0 ? true : undefined), { what: 'the POST recorded', timeoutMs: 5_000, intervalMs: 5 });
    thoth.releaseHeld();
    assert.deepEqual(thoth.requests.slice(from).map((request) => `${request.method} ${request.status}`), ['GET stalled', 'GET 200', 'POST 202']);
  });
});
