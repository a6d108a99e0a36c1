import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectKubeApi, type KubeApi } from './api.js';
import { readBuildLog } from './objects.js';

const BUILD = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'team', name: 'app-1' };
const LINE = `${'x'.repeat(99)}\n`;

describe('readBuildLog', () => {
  let server: http.Server;
  let dir: string;
  let api: KubeApi;
  let lines = 0;

  before(async () => {
    server = http.createServer((request, response) => {
      if (request.url !== '/apis/build.openshift.io/v1/namespaces/team/builds/app-1/log') {
        response.writeHead(404).end('{"kind":"Status","reason":"NotFound"}');
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain' });
      // Streamed in many writes, as a real log is.
      for (let i = 0; i < lines; i++) response.write(LINE);
      response.end('the error is here\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    dir = await mkdtemp(path.join(tmpdir(), 'bw-kube-'));
    const kubeconfig = path.join(dir, 'config');
    const { port } = server.address() as AddressInfo;
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 'test-token' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    api = await connectKubeApi({ kubeconfigPath: kubeconfig });
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('returns a short log whole', async () => {
    lines = 3;
    assert.equal(await readBuildLog(api, BUILD), `${LINE.repeat(3)}the error is here\n`);
  });

  it('keeps only the last 3 MiB of a 20 MiB log, from a line start, with memory bounded', async () => {
    lines = 200_000;
    const log = await readBuildLog(api, BUILD);
    assert.ok(Buffer.byteLength(log) <= 3 * 1024 * 1024);
    assert.ok(Buffer.byteLength(log) > 3 * 1024 * 1024 - 200);
    assert.ok(log.endsWith('the error is here\n'));
    assert.ok(log.startsWith('x'), 'starts at a whole line');
  });

  it('a missing log is a refusal with the status, not a crash', async () => {
    await assert.rejects(readBuildLog(api, { ...BUILD, name: 'gone' }), /Kubernetes API 404 .*NotFound/);
  });
});
