/** The product's Thoth client against the stand-in: the contract, retries, limits and secrecy. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { BuildWatcherError } from '../../functions/errors.js';
import { cutMarker } from '../../functions/thoth/build-log-body.js';
import { ThothClient } from '../../functions/thoth/client.js';
import type { ThothClientOptions } from '../../functions/thoth/client.js';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import type { PushedImage, RunningRegistry } from '../registry/docker-registry.js';
import { makeServerPki } from '../registry/test-pki.js';
import { ThothStub } from './thoth-stub.js';

/** Every way an error could carry a secret: message, stack, cause, hidden properties. */
function assertNoSecret(error: unknown, secrets: readonly string[]): void {
  const everything = inspect(error, { depth: Infinity, showHidden: true, getters: true });
  for (const secret of secrets) assert.ok(!everything.includes(secret), `secret leaked in: ${everything}`);
  assert.ok(!everything.includes('registry_password'), `query leaked in: ${everything}`);
  assert.ok(!/https?:\/\/127\.0\.0\.1/.test(everything), `URL leaked in: ${everything}`);
}

async function failure(promise: Promise<unknown>, secrets: readonly string[]): Promise<BuildWatcherError> {
  try {
    await promise;
  } catch (error) {
    assertNoSecret(error, secrets);
    assert.ok(error instanceof BuildWatcherError, inspect(error));
    return error;
  }
  assert.fail('expected the submission to fail');
}

describe('ThothClient against the Thoth stub', () => {
  let registry: RunningRegistry;
  let image: PushedImage;
  let base: PushedImage;
  let thoth: ThothStub;
  const clients: ThothClient[] = [];

  before(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    [image, base] = await Promise.all([
      pushTestImage(registry, { repository: 'ns/app', tag: 'v1', layerSizes: [512] }),
      pushTestImage(registry, { repository: 'images/base', tag: '9', layerSizes: [256] }),
    ]);
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
  });
  after(async () => {
    for (const client of clients) client.close();
    await thoth?.close();
    await registry?.stop();
  });

  const credentials = () => {
    assert.ok(registry.credentials !== undefined);
    return registry.credentials;
  };
  const outputRef = () => `${registry.host}/ns/app@${image.digest}`;
  const baseRef = () => `${registry.host}/images/base@${base.digest}`;
  const client = (options: Partial<ThothClientOptions> = {}) => {
    const created = new ThothClient({ host: thoth.url, timeoutMs: 5_000, retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 }, ...options });
    clients.push(created);
    return created;
  };
  const postsSince = (index: number) => thoth.requests.slice(index).filter((request) => request.method === 'POST');

  it('submits base, output and log; the stub accepts every parameter it sends', async () => {
    const have = thoth.submissions.length;
    const result = await client().submitBuildAnalysis({
      base: { image: baseRef(), credentials: credentials(), verifyTls: true },
      output: { image: outputRef(), credentials: credentials(), verifyTls: true },
      buildLog: { log: 'STEP 1/2: FROM base\nCOMMIT ns/app\n', apiVersion: '/apis/build.openshift.io/v1/namespaces/ns/builds/app-1', metadata: 'ns/app-1' },
      environmentType: 'buildtime',
      origin: 'cluster-a/ns',
      debug: false,
      force: false,
    });
    assert.match(result.base?.analysisId ?? '', /^package-extract-\d{12}-[0-9a-f]{16}$/);
    assert.match(result.output?.analysisId ?? '', /^package-extract-/);
    assert.match(result.buildLog?.analysisId ?? '', /^buildlog-parser-/);
    assert.match(result.buildLogDocumentId ?? '', /^buildlog-/);
    assert.equal(result.logBytesCut, 0);

    const [recorded] = (await thoth.awaitSubmissions(have + 1)).slice(have);
    assert.deepEqual(recorded?.body, {
      base_image: baseRef(),
      output_image: outputRef(),
      build_log: {
        log: 'STEP 1/2: FROM base\nCOMMIT ns/app\n',
        apiversion: '/apis/build.openshift.io/v1/namespaces/ns/builds/app-1',
        kind: 'BuildLog',
        metadata: 'ns/app-1',
      },
    });
    assert.equal(recorded?.query['origin'], 'cluster-a/ns');
    assert.equal(recorded?.query['base_registry_password'], credentials().password);

    const again = await client().submitBuildAnalysis({ output: { image: outputRef(), credentials: credentials() } });
    assert.deepEqual(again.output, { analysisId: result.output?.analysisId, cached: true });
    assert.equal(again.buildLog, undefined, 'no log sent, no log ticket');
  });

  it('submits a single image to /analyze', async () => {
    const ticket = await client().submitImageAnalysis({ image: outputRef(), credentials: credentials(), verifyTls: true, origin: 'ns' });
    assert.match(ticket.analysisId, /^package-extract-/);
    assert.ok(!inspect(ticket).includes(credentials().password), 'the echoed parameters are dropped');
  });

  it('retries router 503s and an app 500, then succeeds', async () => {
    const from = thoth.requests.length;
    thoth.failNext(2, { status: 503 });
    thoth.failNext(1, { status: 500 });
    const result = await client({ retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 } }).submitBuildAnalysis({
      output: { image: outputRef(), credentials: credentials() },
    });
    assert.ok(result.output !== undefined);
    assert.deepEqual(postsSince(from).map((request) => request.status), [503, 503, 500, 202]);
  });

  it('gives up on 503 after its attempts with a transient error', async () => {
    const from = thoth.requests.length;
    thoth.failNext(3, { status: 503 });
    const error = await failure(client().submitBuildAnalysis({ output: { image: outputRef(), credentials: credentials() } }), [credentials().password]);
    assert.equal(error.kind, 'transient');
    assert.equal(error.status, 503);
    assert.equal(postsSince(from).length, 3);
  });

  it('does not retry a refusal, names the image and keeps the password out', async () => {
    const from = thoth.requests.length;
    const wrong = { username: credentials().username, password: 'wrong-password-5b2c9d' };
    const error = await failure(
      client().submitBuildAnalysis({ base: { image: baseRef(), credentials: credentials() }, output: { image: outputRef(), credentials: wrong } }),
      [wrong.password, credentials().password],
    );
    assert.equal(error.kind, 'refused');
    assert.equal(
      error.message,
      'Thoth refused the output image: 403 credentials refused (There was an error accessing the image as the username/password provided was invalid)',
    );
    assert.deepEqual(postsSince(from).map((request) => request.status), [403]);

    const missing = await failure(
      client().submitBuildAnalysis({ base: { image: `${registry.host}/images/base:gone`, credentials: credentials() } }),
      [credentials().password],
    );
    assert.equal(missing.message, 'Thoth refused the base image: 400 rejected (Unknown manifest for the given image)');
    const anonymous = await failure(client().submitImageAnalysis({ image: outputRef() }), []);
    assert.equal(anonymous.message, 'Thoth refused the image: 401 registry authentication required (There is required authentication in order to pull image and image details)');
  });

  it('times out a stalled discovery and retries it, up to its attempts (a submission is not: thoth-client-resend_test)', async () => {
    const from = thoth.requests.length;
    thoth.stallNext(1, 'discovery');
    // Long enough for the stand-in to inspect the image on a loaded machine: a late 202 is not retried.
    const result = await client({ timeoutMs: 1_000 }).submitImageAnalysis({ image: outputRef(), credentials: credentials() });
    assert.ok(result.analysisId !== '');
    assert.deepEqual(thoth.requests.slice(from).map((request) => `${request.method} ${request.status}`), ['GET stalled', 'GET 200', 'POST 202']);

    thoth.stallNext(2, 'discovery');
    const error = await failure(
      client({ timeoutMs: 200, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }).submitImageAnalysis({ image: outputRef(), credentials: credentials() }),
      [credentials().password],
    );
    assert.equal(error.message, 'Thoth discovery failed after 2 attempts: timed out after 0.2 s');
  });

  it('aborts a stalled submission when the caller does', async () => {
    thoth.stallNext(1);
    const from = thoth.requests.length;
    const controller = new AbortController();
    const submission = client({ timeoutMs: 60_000 }).submitImageAnalysis({ image: outputRef(), credentials: credentials() }, controller.signal);
    const deadline = Date.now() + 3_000;
    const stalled = () => thoth.requests.slice(from).some((request) => request.status === 'stalled');
    while (!stalled() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(stalled(), 'the submission reached the stub');
    controller.abort();
    const error = await failure(submission, [credentials().password]);
    assert.equal(error.message, 'Thoth analyze request aborted');
  });

  it('cuts a 5 MiB log from the front so the stub takes it, keeping the tail', async () => {
    const have = thoth.submissions.length;
    const lines = Array.from({ length: 90_000 }, (_, n) => `Collecting package-${n}==1.0 (from -r requirements.txt (line ${n}))\n`);
    lines.push('ERROR: Could not find a version that satisfies the requirement tensorflow==99\n');
    const log = lines.join('');
    assert.ok(Buffer.byteLength(log) > 5 * 1024 * 1024);
    const result = await client().submitBuildAnalysis({ output: { image: outputRef(), credentials: credentials() }, buildLog: { log } });
    assert.ok(result.logBytesCut > 2 * 1024 * 1024);
    const [recorded] = (await thoth.awaitSubmissions(have + 1)).slice(have);
    assert.ok((recorded?.bodyBytes ?? Infinity) <= 3 * 1024 * 1024);
    const sent = recorded?.body?.build_log?.log ?? '';
    assert.ok(sent.startsWith(cutMarker(result.logBytesCut)));
    assert.ok(sent.endsWith('tensorflow==99\n'));
    assert.ok(log.endsWith(sent.slice(cutMarker(result.logBytesCut).length)));
  });
});

describe('ThothClient over TLS to the Thoth stub', () => {
  /** A log alone: no image for the stand-in to inspect in a registry. */
  const LOG_ONLY = { buildLog: { log: 'STEP 1/1: FROM scratch\n', apiVersion: 'build.openshift.io/v1', metadata: 'ns/app-1' } };
  let dir: string;
  let thoth: ThothStub;
  let caPath: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'thoth-stub-tls-'));
    const pki = await makeServerPki(dir);
    caPath = pki.caPath;
    thoth = await ThothStub.start({ tls: { key: await readFile(pki.keyPath), cert: await readFile(pki.certPath) } });
  });
  after(async () => {
    await thoth?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses an unknown CA once, without retrying, and trusts a CA bundle or no verification', async () => {
    const attempts: string[] = [];
    const strict = new ThothClient({
      host: thoth.url,
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
      onRequest: ({ endpoint, status }) => attempts.push(`${endpoint} ${status}`),
    });
    const bundled = new ThothClient({ host: thoth.url, caBundleFile: caPath });
    const lax = new ThothClient({ host: thoth.url, verifyTls: false });
    try {
      const error = await failure(strict.submitBuildAnalysis(LOG_ONLY), []);
      assert.equal(error.kind, 'refused', 'one failure policy: a certificate problem is final, as for Kubernetes and registries');
      assert.match(error.message, /^TLS verification of the Thoth User API failed \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
      assert.deepEqual(attempts, ['discovery network'], 'a certificate problem is not retried');
      assert.equal(thoth.requests.length, 0, 'the handshake failed before any request');
      assert.match((await bundled.submitBuildAnalysis(LOG_ONLY)).buildLog?.analysisId ?? '', /^buildlog-parser-/);
      assert.match((await lax.submitBuildAnalysis(LOG_ONLY)).buildLog?.analysisId ?? '', /^buildlog-parser-/);
      assert.ok(thoth.requests.every((request) => typeof request.status === 'number' && request.status < 300));
    } finally {
      strict.close();
      bundled.close();
      lax.close();
    }
  });
});
