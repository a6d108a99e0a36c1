import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildLogAnswer } from '../../test/harness/build-log-options.js';
import { connectKubeApi, type KubeApi } from './api.js';
import { BUILD_LOG_TAIL_BYTES, readBuildLog } from './objects.js';

const BUILD = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'team', name: 'app-1' };
const LINE = `${'x'.repeat(99)}\n`;

describe('readBuildLog', () => {
  let server: http.Server;
  let dir: string;
  let api: KubeApi;
  let log = Buffer.alloc(0);
  /** The stand-in's queries and the bytes it wrote, since the test began. */
  let queries: string[] = [];
  let sent = 0;
  /** When set, the stand-in answers as a server that knows no BuildLogOptions would: the whole log. */
  let ignoresOptions = false;
  const serve = (text: string, options: { ignoresOptions?: boolean } = {}) => {
    log = Buffer.from(text);
    queries = [];
    sent = 0;
    ignoresOptions = options.ignoresOptions === true;
  };

  before(async () => {
    // STAND-IN for the API server's builds/log, honouring tailLines and limitBytes as OpenShift does (build-log-options.ts).
    server = http.createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://stand-in.invalid');
      if (url.pathname !== '/apis/build.openshift.io/v1/namespaces/team/builds/app-1/log') {
        response.writeHead(404).end('{"kind":"Status","reason":"NotFound"}');
        return;
      }
      queries.push(url.search);
      const selected = ignoresOptions ? log : buildLogAnswer(url.searchParams, log);
      if ('invalid' in selected) return void response.writeHead(400).end('{"kind":"Status","reason":"BadRequest"}');
      response.writeHead(200, { 'content-type': 'text/plain' });
      // Streamed in 64 KiB writes, as a real log is, minding back-pressure, until done or the client goes.
      let at = 0;
      const more = (): void => {
        while (at < selected.length && !response.destroyed) {
          const piece = selected.subarray(at, at + 64 * 1024);
          at += piece.length;
          sent += piece.length;
          if (!response.write(piece)) return void response.once('drain', more);
        }
        response.end();
      };
      more();
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

  it('returns a short log whole, in one request for its last lines and at most 3 MiB', async () => {
    serve(`${LINE.repeat(3)}the error is here\n`);
    assert.equal(await readBuildLog(api, BUILD), `${LINE.repeat(3)}the error is here\n`);
    assert.deepEqual(queries, [`?tailLines=32768&limitBytes=${BUILD_LOG_TAIL_BYTES}`]);
  });

  it('a 64 MiB log: the server sends only its last lines, at most 3 MiB a request, and the tail ends the log (issue 20, item 5)', async () => {
    serve(`${LINE.repeat(640_000)}the error is here\n`);
    const text = await readBuildLog(api, BUILD);
    assert.ok(Buffer.byteLength(text) <= BUILD_LOG_TAIL_BYTES);
    assert.ok(Buffer.byteLength(text) > BUILD_LOG_TAIL_BYTES - 200, 'as much of the end as fits');
    assert.ok(text.endsWith('the error is here\n'));
    assert.ok(text.startsWith('x'), 'starts at a whole line');
    assert.equal(queries.length, 2, 'the first answer reached limitBytes; the second asked for the lines that fitted');
    assert.ok(sent <= 2 * BUILD_LOG_TAIL_BYTES, `sent ${sent} bytes of a ${log.length}-byte log`);
  });

  it('lines that grow towards the end: fewer lines each time, at most 9 requests of 3 MiB, and the end is kept', async () => {
    const long = `${'y'.repeat(200 * 1024 - 1)}\n`;
    serve(`${LINE.repeat(10_000)}${long.repeat(100)}the error is here\n`);
    const text = await readBuildLog(api, BUILD);
    assert.ok(text.endsWith('the error is here\n'));
    assert.ok(Buffer.byteLength(text) <= BUILD_LOG_TAIL_BYTES);
    assert.ok(queries.length <= 9, `${queries.length} requests`);
    assert.ok(sent <= queries.length * BUILD_LOG_TAIL_BYTES);
  });

  it('a server that ignores the options: no more than 3 MiB is read of each answer, and the connection is closed', async () => {
    serve(`${LINE.repeat(640_000)}the error is here\n`, { ignoresOptions: true });
    const text = await readBuildLog(api, BUILD);
    assert.ok(Buffer.byteLength(text) <= BUILD_LOG_TAIL_BYTES);
    assert.ok(queries.length <= 9, `${queries.length} requests`);
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.ok(sent < queries.length * 16 * 1024 * 1024, `sent ${sent} bytes in ${queries.length} answers of ${log.length}`);
  });

  it('a missing log is a refusal with the status, not a crash', async () => {
    await assert.rejects(readBuildLog(api, { ...BUILD, name: 'gone' }), /Kubernetes API 404 .*NotFound/);
  });
});
