/**
 * The copier against a HOSTILE REGISTRY written here (a real HTTP server on 127.0.0.1, port 0; not docker-registry, which
 * would never answer like this): an index of thousands of children, a 100 MB manifest, a registry that trickles bytes
 * forever. Each copy ends in a refusal that says why, or a transient failure (a 503 to the Broker), and the bound is shown by
 * counting what reached the registry (issue 20).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { copyImage, MAX_MANIFESTS } from '../../functions/registry/copy-image.js';
import { MANIFEST_LIMIT } from '../../functions/registry/manifest-transfer.js';
import { OCI_INDEX, OCI_MANIFEST } from '../../functions/registry/manifest.js';
import { RegistryError } from '../../functions/registry/registry-error.js';
import { within } from '../harness/wait.js';

type Manifest = (res: ServerResponse) => void;

interface Hostile {
  readonly host: string;
  /** Requests by `METHOD path`. */
  readonly requests: string[];
  /** Body bytes written to manifest answers so far, and the connections that carried them closed by now. */
  readonly written: { bytes: number; opened: number; closed: number };
  close(): Promise<void>;
}

/** Answers the version check, says every manifest is absent at `hostile/dst`, and serves `hostile/src:latest` as told. */
async function startHostile(manifest: Manifest): Promise<Hostile> {
  const requests: string[] = [];
  const written = { bytes: 0, opened: 0, closed: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    req.resume();
    if (req.url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (req.method === 'GET' && req.url === '/v2/hostile/src/manifests/latest') {
      written.opened += 1;
      res.once('close', () => { written.closed += 1; });
      return manifest(res);
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests, written,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Writes `total` bytes of `fill`, minding back-pressure, until done or the client goes away. */
function stream(res: ServerResponse, total: number, written: Hostile['written']): void {
  const block = Buffer.alloc(64 * 1024, 0x20);
  const more = (): void => {
    while (written.bytes < total && !res.destroyed) {
      written.bytes += block.length;
      if (!res.write(block)) return void res.once('drain', more);
    }
    res.end();
  };
  more();
}

const copy = (host: string, extra: Partial<Parameters<typeof copyImage>[0]> = {}) => copyImage({
  source: { registry: host, repository: 'hostile/src', tag: 'latest' },
  destination: { registry: host, repository: 'hostile/dst', tag: 'latest' },
  retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 }, ...extra,
});

const failure = async (promise: Promise<unknown>): Promise<RegistryError> => {
  const error = await within(promise.then(() => undefined, (e: unknown) => e), { what: 'the copy to end', timeoutMs: 60_000 });
  assert.ok(error instanceof RegistryError, `expected a RegistryError, got ${String(error)}`);
  return error;
};

describe('copyImage against a hostile registry (issue 20)', { timeout: 180_000 }, () => {
  const servers: Hostile[] = [];
  const hostile = async (manifest: Manifest): Promise<Hostile> => {
    const started = await startHostile(manifest);
    servers.push(started);
    return started;
  };
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it(`an index of 5000 children: refused before any child is asked for (at most ${MAX_MANIFESTS} manifests a copy)`, async () => {
    const manifests = Array.from({ length: 5000 }, () => ({ mediaType: OCI_MANIFEST, digest: `sha256:${randomBytes(32).toString('hex')}`, size: 500 }));
    const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
    const server = await hostile((res) => res.writeHead(200, { 'content-type': OCI_INDEX, 'content-length': Buffer.byteLength(body) }).end(body));
    const error = await failure(copy(server.host));
    assert.equal(error.kind, 'refused');
    assert.match(error.message, /lists 5000 manifests; one copy takes at most 256/);
    const children = new Set(manifests.map((m) => m.digest));
    assert.equal(server.requests.filter((r) => children.has(r.split('/manifests/')[1] ?? '')).length, 0, 'no child manifest was asked for, here or there');
  });

  it('a 100 MB manifest that says so: refused on its Content-Length, once, not retried', async () => {
    const server = await hostile((res) => {
      res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(100 * 1024 * 1024) });
      stream(res, 100 * 1024 * 1024, server.written);
    });
    const error = await failure(copy(server.host));
    assert.equal(error.kind, 'refused');
    assert.match(error.message, /announces 104857600 bytes, over the 4194304 a manifest may have/);
    assert.equal(server.written.opened, 1);
    await within(waitClosed(server), { what: 'the connection to close', timeoutMs: 30_000 });
    assert.ok(server.written.bytes < 100 * 1024 * 1024, 'the client stopped reading');
  });

  it('a 100 MB manifest sent chunked, with no length: refused past 4 MiB, once, the rest unread', async () => {
    const server = await hostile((res) => {
      res.writeHead(200, { 'content-type': OCI_MANIFEST });
      stream(res, 100 * 1024 * 1024, server.written);
    });
    const error = await failure(copy(server.host));
    assert.equal(error.kind, 'refused');
    assert.match(error.message, new RegExp(`exceeds the ${MANIFEST_LIMIT} bytes a manifest may have`));
    assert.equal(server.written.opened, 1);
    await within(waitClosed(server), { what: 'the connection to close', timeoutMs: 30_000 });
    assert.ok(server.written.bytes < 100 * 1024 * 1024, 'the client stopped reading');
  });

  it('a registry that trickles a manifest forever, never idle: each attempt ends at its deadline, then transient (503)', async () => {
    let trickles = 0;
    const server = await hostile((res) => {
      res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': '100000' });
      const timer = setInterval(() => { trickles += 1; res.write(' '); }, 10);
      res.once('close', () => clearInterval(timer));
    });
    const error = await failure(copy(server.host, { smallExchangeDeadlineMs: 500 }));
    assert.equal(error.kind, 'transient');
    assert.match(error.message, /fetch manifest|read manifest/);
    assert.match(error.message, /no whole answer within/);
    assert.equal(server.written.opened, 2, 'two attempts, as the retry policy says');
    await within(waitClosed(server), { what: 'every trickling connection to close', timeoutMs: 30_000 });
    assert.ok(trickles > 0);
  });
});

async function waitClosed(server: Hostile): Promise<void> {
  while (server.written.closed < server.written.opened) await new Promise((resolve) => setTimeout(resolve, 20));
}
