import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type RequestOptions, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeServerPki } from '../../test/registry/test-pki.js';
import { kubeApiOver } from './api.js';
import { kubeconfigAccess } from './cluster-access.js';

/** A kubeconfig for `server`, trusting `caPem`, with a bearer token (and a proxy, if given). */
function kubeconfig(server: string, caPem: string, proxyUrl?: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64'), ...(proxyUrl ? { 'proxy-url': proxyUrl } : {}) } }],
    users: [{ name: 'u', user: { token: 'kubeconfig-token' } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'team' } }],
    'current-context': 'x',
  });
}

describe('kubeconfigAccess (client-node loads the kubeconfig; node pools the connections)', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let caPem: string;
  let handshakes = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bw-kubeconfig-'));
    const pki = await makeServerPki(dir);
    caPem = await readFile(pki.caPath, 'utf8');
    server = createServer({ cert: await readFile(pki.certPath), key: await readFile(pki.keyPath) }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ authorization: req.headers.authorization ?? '' }));
    });
    server.on('secureConnection', () => handshakes++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    url = `https://127.0.0.1:${address.port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps one TLS connection for consecutive API calls, each with the kubeconfig\'s token', async () => {
    const file = join(dir, 'kubeconfig');
    await writeFile(file, kubeconfig(url, caPem));
    const api = kubeApiOver(await kubeconfigAccess(file));
    const before = handshakes;
    for (let call = 0; call < 5; call++) {
      const answer = await api.request({ method: 'GET', path: '/apis/build.openshift.io/v1/namespaces/team/builds/b' });
      assert.equal(JSON.parse(answer.text).authorization, 'Bearer kubeconfig-token');
    }
    // client-node's own Agent for the cluster closes every connection: 5 handshakes.
    assert.equal(handshakes - before, 1);
  });

  it('leaves client-node\'s proxy agent in place when the kubeconfig names a proxy', async () => {
    const file = join(dir, 'kubeconfig-proxy');
    await writeFile(file, kubeconfig(url, caPem, 'http://127.0.0.1:1'));
    const options: RequestOptions = {};
    await (await kubeconfigAccess(file)).authorize(options);
    assert.ok(options.agent !== undefined);
  });
});
