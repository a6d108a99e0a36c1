import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import type { PushedImage, RunningRegistry } from '../registry/docker-registry.js';
import { MESSAGES } from './registry-inspect.js';
import { STUB_VERSION, ThothStub } from './thoth-stub.js';

const ID = /^package-extract-\d{12}-[0-9a-f]{16}$/;

describe('ThothStub', () => {
  let registry: RunningRegistry;
  let image: PushedImage;
  let thoth: ThothStub;
  let reference: string;

  before(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    image = await pushTestImage(registry, { repository: 'ns/app', tag: 'v1', layerSizes: [512] });
    reference = `${registry.host}/ns/app@${image.digest}`;
    // The registry is plain HTTP, which the "Thoth host" is configured to allow.
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
  });
  after(async () => {
    await thoth?.close();
    await registry?.stop();
  });

  const credentials = () => {
    assert.ok(registry.credentials !== undefined);
    return registry.credentials;
  };
  const outputQuery = (extra: Record<string, string> = {}) =>
    new URLSearchParams({ output_registry_user: credentials().username, output_registry_password: credentials().password, ...extra });

  async function post(path: string, query: URLSearchParams, body?: unknown, contentType = 'application/json') {
    const response = await fetch(`${thoth.url}/api/v1/${path}?${query}`, {
      method: 'POST',
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': contentType } } : {}),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, json: json as Record<string, unknown>, text };
  }

  it('answers discovery with its routes and Thoth headers on every response', async () => {
    const response = await fetch(`${thoth.url}/api/v1`, { headers: { Accept: 'application/json' } });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { paths: string[] };
    assert.ok(body.paths.includes('/api/v1/build-analysis'));
    assert.ok(body.paths.includes('/api/v1/analyze'));
    for (const answer of [response, await fetch(`${thoth.url}/api/v1/nowhere`), await fetch(`${thoth.url}/api/v1/build-analysis`)]) {
      assert.equal(answer.headers.get('x-thoth-version'), STUB_VERSION);
      assert.equal(answer.headers.get('x-user-api-service-version'), STUB_VERSION);
      assert.ok(answer.headers.get('x-thoth-search-ui-url')?.startsWith('https://'));
    }
    assert.equal((await fetch(`${thoth.url}/api/v1/nowhere`)).status, 404);
    assert.equal((await fetch(`${thoth.url}/api/v1/build-analysis`)).status, 405);
  });

  it('accepts a build analysis, checks the image exists, and caches by digest and name', async () => {
    const before = thoth.submissions.length;
    const body = { output_image: reference, build_log: { log: 'done\n', kind: 'BuildLog', metadata: 'string' } };
    const first = await post('build-analysis', outputQuery({ environment_type: 'buildtime' }), body);
    assert.equal(first.status, 202, first.text);
    const output = first.json['output_image_analysis'] as { analysis_id: string; cached: boolean; parameters: unknown };
    assert.match(output.analysis_id, ID);
    assert.equal(output.cached, false);
    assert.deepEqual(output.parameters, { output_image: reference, registry_verify_tls: true });
    assert.equal(first.json['base_image_analysis'], null);
    assert.match(String((first.json['buildlog_analysis'] as { analysis_id: string }).analysis_id), /^buildlog-parser-\d{12}-[0-9a-f]{16}$/);

    const again = await post('build-analysis', outputQuery(), body);
    const cachedOutput = again.json['output_image_analysis'] as { analysis_id: string; cached: boolean };
    assert.deepEqual([cachedOutput.analysis_id, cachedOutput.cached], [output.analysis_id, true]);
    assert.equal((again.json['buildlog_analysis'] as { cached: boolean }).cached, true);

    const forced = await post('build-analysis', outputQuery({ force: 'true' }), body);
    const forcedOutput = forced.json['output_image_analysis'] as { analysis_id: string; cached: boolean };
    assert.notEqual(forcedOutput.analysis_id, output.analysis_id);
    assert.equal(forcedOutput.cached, false);

    const byTag = await post('build-analysis', outputQuery(), { output_image: `${registry.host}/ns/app:v1` });
    assert.equal((byTag.json['output_image_analysis'] as { cached: boolean }).cached, false, 'the name is part of the key');

    const recorded = await thoth.awaitSubmissions(before + 4, 1_000);
    const last = recorded[before];
    assert.equal(last?.endpoint, 'build-analysis');
    assert.deepEqual(last?.body, body);
    assert.equal(last?.query['environment_type'], 'buildtime');
  });

  it('refuses what Thoth refuses', async () => {
    const cases: ReadonlyArray<readonly [string, URLSearchParams, unknown, number, RegExp]> = [
      ['an unknown parameter', new URLSearchParams({ registry_user: 'x' }), { output_image: reference }, 400, /Extra query parameter/],
      ['a null build log', outputQuery(), { output_image: reference, build_log: null }, 400, /None is not of type 'object'/],
      ['no input at all', outputQuery(), { base_image: null, output_image: '' }, 400, /No base, output nor build log provided/],
      ['an image never pushed', outputQuery(), { output_image: `${registry.host}/ns/app:nope` }, 400, /Unknown manifest/],
      ['a missing password', new URLSearchParams({ output_registry_user: 'u' }), { output_image: reference }, 400, /Both parameters/],
      ['no credentials', new URLSearchParams(), { output_image: reference }, 401, /required authentication/],
      ['wrong credentials', new URLSearchParams({ output_registry_user: 'u', output_registry_password: 'not-the-password' }),
        { output_image: reference }, 403, /username\/password provided was invalid/],
    ];
    const before = thoth.submissions.length;
    for (const [name, query, body, status, message] of cases) {
      const answer = await post('build-analysis', query, body);
      assert.equal(answer.status, status, `${name}: ${answer.text}`);
      assert.match(answer.text, message, name);
    }
    const echoed = await post('build-analysis', new URLSearchParams({ output_registry_user: 'u', output_registry_password: 'echoed-secret' }), { output_image: reference });
    assert.match(echoed.text, /echoed-secret/, 'like Thoth, error bodies echo the password');
    const wrongType = await post('build-analysis', outputQuery(), '{"output_image": "x"}', 'text/plain');
    assert.equal(wrongType.status, 415);
    assert.equal(thoth.submissions.length, before, 'nothing refused is recorded');
  });

  it('rejects a body over 3 MiB with its own message', async () => {
    const log = 'x'.repeat(3 * 1024 * 1024);
    const answer = await post('build-analysis', outputQuery(), { output_image: reference, build_log: { log } });
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.json, { error: 'Input exceeded 3145728 bytes' });
  });

  it('analyses a single image and reports its status', async () => {
    const query = new URLSearchParams({ image: reference, registry_user: credentials().username, registry_password: credentials().password });
    const first = await post('analyze', query);
    assert.equal(first.status, 202, first.text);
    assert.match(String(first.json['analysis_id']), ID);
    assert.equal(first.json['cached'], false);
    assert.equal((first.json['parameters'] as { registry_password: string }).registry_password, credentials().password);
    const second = await post('analyze', query);
    assert.deepEqual([second.json['analysis_id'], second.json['cached']], [first.json['analysis_id'], true]);
    assert.equal((await post('analyze', new URLSearchParams({ registry_user: 'u' }))).status, 400);

    const id = String(first.json['analysis_id']);
    const pending = await fetch(`${thoth.url}/api/v1/analyze/${id}/status`);
    assert.equal(pending.status, 200);
    assert.equal(((await pending.json()) as { status: { state: string } }).status.state, 'pending');
    thoth.setAnalysisState(id, { state: 'success', reason: 'done', finished_at: '2026-11-20T10:00:00Z' });
    const done = (await (await fetch(`${thoth.url}/api/v1/analyze/${id}/status`)).json()) as { status: { state: string } };
    assert.equal(done.status.state, 'success');
    assert.equal((await fetch(`${thoth.url}/api/v1/analyze/package-extract-000000000000-0000000000000000/status`)).status, 404);
    assert.equal((await fetch(`${thoth.url}/api/v1/analyze/adviser-1/status`)).status, 400);
  });

  it('injects router 503s and app 500s, then behaves again', async () => {
    thoth.failNext(1, { status: 503, retryAfterSeconds: 2 });
    thoth.failNext(1, { status: 500 });
    const discovery = await fetch(`${thoth.url}/api/v1`);
    assert.equal(discovery.status, 200, 'discovery is not a submission');
    const routed = await post('analyze', new URLSearchParams({ image: reference }));
    assert.equal(routed.status, 503);
    assert.equal(routed.headers.get('retry-after'), '2');
    assert.equal(routed.headers.get('x-thoth-version'), null, 'the router is not Thoth');
    const crashed = await post('analyze', new URLSearchParams({ image: reference }));
    assert.equal(crashed.status, 500);
    assert.match(String(crashed.json['error']), /Internal server error/);
    assert.equal(crashed.headers.get('x-thoth-version'), STUB_VERSION);
    const statuses = thoth.requests.slice(-3).map((request) => `${request.endpoint} ${request.status}`);
    assert.deepEqual(statuses, ['discovery 200', 'analyze 503', 'analyze 500']);
    assert.ok(thoth.requests.every((request) => !request.path.includes('?')));

    thoth.failNext(5, { status: 503 });
    thoth.clearFailures();
    assert.equal((await post('analyze', new URLSearchParams({ image: reference }))).status, 401, 'no failure left');
  });

  it('rejects a waiter at its deadline, naming what arrived', async () => {
    const have = thoth.submissions.length;
    await assert.rejects(thoth.awaitSubmissions(have + 1, 50), new RegExp(`expected ${have + 1} accepted Thoth submissions within 50 ms, got ${have}`));
  });

  it('wakes a waiter as soon as the submission arrives', async () => {
    const have = thoth.submissions.length;
    const waiting = thoth.awaitSubmissions(have + 1, 5_000);
    const answer = await post('build-analysis', outputQuery(), { output_image: reference });
    assert.equal(answer.status, 202);
    assert.equal((await waiting).length, have + 1);
  });

  it('stalls requests until closed', async () => {
    const stub = await ThothStub.start();
    stub.stallNext(1, 'discovery');
    const stalled = fetch(`${stub.url}/api/v1`).then(
      () => 'answered',
      () => 'dropped',
    );
    const deadline = Date.now() + 2_000;
    while (stub.requests.length === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stub.requests[0]?.status, 'stalled');
    await stub.close();
    assert.equal(await stalled, 'dropped');
  });
});

describe('ThothStub registry trust', () => {
  it('honours verify_tls and its trusted CAs for a TLS registry', async () => {
    const registry = await startRegistry({ tls: true });
    const stub = await ThothStub.start();
    try {
      const image = await pushTestImage(registry, { repository: 'ns/tls', layerSizes: [128] });
      const reference = `${registry.host}/ns/tls@${image.digest}`;
      const analyze = (query: Record<string, string>) =>
        fetch(`${stub.url}/api/v1/analyze?${new URLSearchParams({ image: reference, ...query })}`, { method: 'POST' });
      const untrusted = await analyze({});
      assert.equal(untrusted.status, 401);
      assert.equal(((await untrusted.json()) as { error: string }).error, MESSAGES.unknownAuthority);
      assert.equal((await analyze({ verify_tls: 'false' })).status, 202);
      const trusting = await ThothStub.start({ registryCa: [await readFile(registry.caPath ?? '')] });
      try {
        const trusted = await fetch(`${trusting.url}/api/v1/analyze?${new URLSearchParams({ image: reference })}`, { method: 'POST' });
        assert.equal(trusted.status, 202);
      } finally {
        await trusting.close();
      }
    } finally {
      await stub.close();
      await registry.stop();
    }
  });
});
