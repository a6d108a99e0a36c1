/**
 * The function through the real runtime over HTTP, against real registries and the Thoth
 * stand-in, with no cluster (BUILD_WATCHER_TRUST_EVENT_PAYLOAD=1). The cluster side is covered
 * by test/e2e against the real API server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { postBinaryEvent, startFunction, type RunningFunction } from './run-function.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YnVpbGQtd2F0Y2hlciJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

function build(options: { name: string; phase: string; output: string; digest?: string; outputKind?: string; base?: string }): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name: options.name, namespace: 'myproject', uid: `uid-${options.name}`, resourceVersion: '7' },
    spec: {
      strategy: options.base === undefined ? { type: 'Docker', dockerStrategy: {} } : { type: 'Docker', dockerStrategy: { from: { kind: 'DockerImage', name: options.base } } },
      output: { to: { kind: options.outputKind ?? 'ImageStreamTag', name: 'app:latest' } },
    },
    status: {
      phase: options.phase,
      outputDockerImageReference: options.output,
      ...(options.digest !== undefined ? { output: { to: { imageDigest: options.digest } } } : {}),
    },
  };
}

describe('the function through faas-js-runtime', () => {
  let registry: RunningRegistry;
  let locked: RunningRegistry;
  let thoth: ThothStub;
  let fn: RunningFunction & { readonly process: import("node:child_process").ChildProcess };
  let dir: string;
  let app: { digest: string };
  let base: { digest: string };
  /** The same registry under another name: to the function, another registry. */
  let elsewhere: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bw-function-'));
    await writeFile(path.join(dir, 'token'), `${TOKEN}\n`);
    [registry, locked] = await Promise.all([startRegistry(), startRegistry({ auth: 'htpasswd' })]);
    app = await pushTestImage(registry, { repository: 'myproject/app', tag: 'latest', layerSizes: [2048, 4096] });
    base = await pushTestImage(registry, { repository: 'library/base', tag: '1', layerSizes: [1024] });
    await pushTestImage(locked, { repository: 'myproject/private', tag: 'latest', layerSizes: [512] });
    elsewhere = registry.host.replace('127.0.0.1', 'localhost');
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host, elsewhere, locked.host] });
    fn = await startFunction({
      env: {
        THOTH_USER_API_HOST: thoth.url,
        BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1',
        THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1',
        THOTH_PASS_TOKEN: '1',
        BUILD_WATCHER_TOKEN_FILE: path.join(dir, 'token'),
        THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1',
        FUNC_BODY_LIMIT: String(256 * 1024),
      },
    });
  });

  after(async () => {
    await fn?.stop();
    await thoth?.close();
    await Promise.all([registry?.stop(), locked?.stop()]);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('submits a Complete build once, pinned by digest, and answers with a CloudEvent', async () => {
    const response = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: build({ name: 'app-1', phase: 'Complete', output: `${registry.host}/myproject/app:latest`, digest: app.digest, base: `${elsewhere}/library/base@${base.digest}` }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.analysis.submitted');
    assert.equal(response.headers.get('ce-kind'), null, 'a reply must not look like a build event to a Trigger');
    const reply = (await response.json()) as { object: { name: string }; images: { output: string; base: string; analysisIds: { output: string } }[] };
    assert.equal(reply.object.name, 'app-1');
    assert.equal(reply.images[0]?.output, `${registry.host}/myproject/app@${app.digest}`);
    assert.match(reply.images[0]?.analysisIds.output ?? '', /^package-extract-\d{12}-[0-9a-f]{16}$/);

    const [submission] = await thoth.awaitSubmissions(1);
    assert.equal(submission?.endpoint, 'build-analysis');
    assert.equal(submission?.body?.output_image, `${registry.host}/myproject/app@${app.digest}`);
    assert.equal(submission?.body?.base_image, `${elsewhere}/library/base@${base.digest}`);
    // With no cluster, no ImageStream vouches for any registry: the token goes nowhere (the
    // e2e tests show it going with images a real ImageStream vouches for).
    assert.equal(submission?.query['output_registry_password'], undefined, 'no token without an ImageStream that vouches for the registry');
    assert.equal(submission?.query['output_registry_verify_tls'], true, 'verified: not the cluster registry');
    assert.equal(submission?.query['base_registry_password'], undefined, 'never the token for another registry');
    assert.equal(submission?.query['origin'], 'myproject');
  });

  it('accepts structured-mode CloudEvents too', async () => {
    const before = thoth.submissions.length;
    const response = await fetch(fn.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({
        specversion: '1.0',
        id: 'structured-1',
        source: 'https://127.0.0.1:6443',
        type: 'dev.knative.apiserver.resource.update',
        subject: '/apis/build.openshift.io/v1/namespaces/myproject/builds/app-s',
        datacontenttype: 'application/json',
        kind: 'Build',
        name: 'app-s',
        namespace: 'myproject',
        apiversion: 'build.openshift.io/v1',
        data: build({ name: 'app-s', phase: 'Complete', output: `${registry.host}/myproject/app:latest`, digest: app.digest }),
      }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.analysis.submitted');
    await thoth.awaitSubmissions(before + 1);
  });

  it('acknowledges builds that are not finished, without submitting', async () => {
    const before = thoth.submissions.length;
    for (const phase of ['New', 'Pending', 'Running', 'Cancelled']) {
      const response = await postBinaryEvent(fn.url, {
        type: 'dev.knative.apiserver.resource.update',
        object: build({ name: 'app-2', phase, output: `${registry.host}/myproject/app:latest` }),
      });
      assert.equal(response.status, 204, phase);
    }
    const deleted = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.delete',
      object: build({ name: 'app-1', phase: 'Complete', output: `${registry.host}/myproject/app:latest`, digest: app.digest }),
    });
    assert.equal(deleted.status, 204);
    assert.equal(thoth.submissions.length, before);
  });

  it('answers bad input with a 4xx and one line, and keeps working', async () => {
    const cases: [string, Promise<Response>, number, RegExp][] = [
      ['not a CloudEvent', fetch(fn.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 400, /expected a CloudEvent/],
      ['unknown type', postBinaryEvent(fn.url, { type: 'com.example.unknown', object: {} }), 400, /unknown event type/],
      ['CloudEvent without a source', fetch(fn.url, { method: 'POST', headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-type': 'dev.knative.apiserver.resource.add' }, body: '{}' }), 400, /source/],
      ['structured CloudEvent without a type', fetch(fn.url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: '{"specversion":"1.0","id":"1","source":"/x"}' }), 400, /type/],
      ['malformed JSON', postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.add', object: '{"kind": "Bui' }), 400, /./],
      ['not a Build', postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.add', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'myproject' } } }), 422, /unsupported object v1\/Pod/],
      ['missing metadata', postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.add', object: { apiVersion: 'build.openshift.io/v1', kind: 'Build' } }), 400, /metadata: expected an object/],
      ['absurd phase', postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.update', object: build({ name: 'x', phase: 'Exploded', output: 'a/b:c' }) }), 400, /status\.phase/],
      ['absurd digest', postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.update', object: build({ name: 'x', phase: 'Complete', output: `${registry.host}/a/b:c`, digest: 'md5:abc' }) }), 400, /imageDigest/],
      ['oversized body', postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.update', object: { ...build({ name: 'x', phase: 'Complete', output: 'a/b:c' }), padding: 'x'.repeat(300 * 1024) } }), 413, /./],
    ];
    for (const [name, pending, status, reason] of cases) {
      const response = await pending;
      const text = await response.text();
      assert.equal(response.status, status, `${name}: ${text}`);
      assert.match(text, reason, name);
    }
    const good = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: build({ name: 'app-3', phase: 'Complete', output: `${registry.host}/myproject/app:latest`, digest: app.digest }),
    });
    assert.equal(good.status, 200);
    assert.equal(fn.process.exitCode, null, 'still running');
  });

  it('answers a numeric 503 while Thoth is unavailable, so Knative redelivers', async () => {
    thoth.failNext(20, { status: 503 });
    const response = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: build({ name: 'app-4', phase: 'Complete', output: `${registry.host}/myproject/app:latest`, digest: app.digest }),
    });
    assert.equal(response.status, 503);
    assert.equal((await response.text()).trim().split('\n').length, 1);
    thoth.clearFailures();
  });

  it('reports a permanent refusal with its reason, as a CloudEvent, with 200 so delivery stops', async () => {
    const response = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: build({ name: 'private-1', phase: 'Complete', output: `${locked.host}/myproject/private:latest`, outputKind: 'DockerImage' }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.analysis.refused');
    const reply = (await response.json()) as { reason: string };
    assert.match(reply.reason, /401|403|auth/i);
  });

  it('a base image Thoth may not pull does not cost the output image its analysis', async () => {
    const response = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: build({ name: 'app-9', phase: 'Complete', output: `${registry.host}/myproject/app:latest`, digest: app.digest, base: `${locked.host}/myproject/private:latest` }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.analysis.submitted');
    const reply = (await response.json()) as { images: { output?: string; base?: string }[] };
    assert.equal(reply.images[0]?.output, `${registry.host}/myproject/app@${app.digest}`);
    assert.equal(reply.images[0]?.base, undefined);
  });

  it('exports its metrics on the runtime /metrics', async () => {
    const text = await (await fetch(`${fn.url}/metrics`)).text();
    assert.match(text, /faas_invocations/);
    assert.match(text, /build_watcher_events_received_total\{[^}]*decision="submitted"/);
    assert.match(text, /build_watcher_events_received_total\{[^}]*decision="ignored:not-finished"/);
    assert.match(text, /build_watcher_submissions_total/);
    assert.match(text, /build_watcher_thoth_request_duration_seconds_bucket/);
  });

  it('never logs the token or a Thoth query string', () => {
    const all = fn.lines.join('\n');
    assert.ok(fn.lines.length > 0);
    assert.equal(all.includes(TOKEN), false, 'token in logs');
    assert.doesNotMatch(all, /registry_password=/);
    assert.doesNotMatch(all, /authorization/i);
  });
});

describe('configuration errors', () => {
  it('refuses to start with one message naming every bad variable, and no secret', async () => {
    const fn = await startFunction({
      waitReady: false,
      env: { THOTH_NO_TLS_VERIFY: 'perhaps', THOTH_DST_REGISTRY_USER: 'me', THOTH_DST_REGISTRY_PASSWORD: 'hunter2-hunter2', THOTH_BUILD_WATCHER_WORKERS: 'many' },
    });
    try {
      const line = await fn.waitForLine(/invalid configuration/);
      for (const name of ['THOTH_NO_TLS_VERIFY', 'THOTH_BUILD_WATCHER_WORKERS']) assert.match(line, new RegExp(name));
      await new Promise<void>((resolve) => (fn.process.exitCode !== null ? resolve() : fn.process.once('exit', () => resolve())));
      assert.notEqual(fn.process.exitCode, 0);
      assert.equal(fn.lines.join('\n').includes('hunter2'), false);
    } finally {
      await fn.stop();
    }
  });
});
