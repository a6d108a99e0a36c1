/**
 * A layer far larger than the memory the copier may use, in one PUT and in PATCH chunks:
 * copied in its own process, whose peak resident memory must stay flat. The copier reads big
 * blobs into a few reused buffers (raw-body-get.ts, blob-pump.ts); measured: +9-10 MiB over the
 * start-up peak under tsx for 315 MB, where every socket read into a fresh Buffer let some
 * 85 MiB of dead Buffers pile up before V8 collected them. The layer itself is 305 MiB.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, it } from 'node:test';
import type { CopyResult } from '../../functions/registry/copy-image.js';
import { pushTestImage, startRegistry, TestRegistryClient } from './docker-registry.js';
import type { RunningRegistry } from './docker-registry.js';
import { startFaultyProxy } from './faulty-proxy.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const LAYER = 320 * 1000 * 1000;
/** What streaming may add to the process's own start-up peak; the layer is ten times that. */
const GROWTH_BUDGET = 24 * MiB;

let source: RunningRegistry;
let destination: RunningRegistry;
before(async () => {
  [source, destination] = await Promise.all([startRegistry(), startRegistry()]);
});
after(async () => {
  await Promise.all([source, destination].filter((r) => r !== undefined).map((r) => r.stop()));
});

/** Copies in a child process and checks its peak memory and the result. */
async function copyWithFlatMemory(repository: string, layer: number, destinationHost: string): Promise<{ result: CopyResult; blobBytes: number }> {
  const image = await pushTestImage(source, { repository, tag: 'v1', layerSizes: [layer] });
  const child = fileURLToPath(new URL('./copy-child.ts', import.meta.url));
  const input = {
    source: { registry: source.host, repository, tag: 'v1' },
    destination: { registry: destinationHost, repository, tag: 'v1' },
  };
  // Asynchronous: a proxy in this process may stand between the child and the registry.
  const { stdout } = await run(process.execPath, ['--import', 'tsx', child, JSON.stringify(input)], { timeout: 150_000 });
  const { result, maxRssBytes, startRssBytes } = JSON.parse(stdout) as { result: CopyResult; maxRssBytes: number; startRssBytes: number };
  assert.equal(result.digest, image.digest);
  const growth = maxRssBytes - startRssBytes;
  assert.ok(growth < GROWTH_BUDGET, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB while streaming (budget ${GROWTH_BUDGET / MiB} MiB)`);
  const client = new TestRegistryClient(destination);
  assert.equal((await client.getManifest(repository, 'v1'))?.digest, image.digest);
  for (const digest of image.blobDigests) assert.ok(await client.blobExists(repository, digest));
  return { result, blobBytes: image.blobBytes };
}

it('streams a 320 MB layer with flat memory and an intact result', { timeout: 180_000 }, async () => {
  const { result, blobBytes } = await copyWithFlatMemory('huge/app', LAYER, destination.host);
  assert.equal(result.bytesSent, blobBytes);
});

it('streams a 100 MB layer in PATCH chunks with flat memory, where monolithic PUTs are refused', { timeout: 180_000 }, async () => {
  const strict = await startFaultyProxy({
    target: destination.url,
    fault: (req) => (req.method === 'PUT' && req.url?.includes('/blobs/uploads/') === true && req.headers['content-length'] !== '0'
      ? { kind: 'status', status: 413 } : undefined),
  });
  try {
    await copyWithFlatMemory('huge/chunked', 100 * 1000 * 1000, strict.host);
    assert.ok(strict.seen.filter((r) => r.method === 'PATCH').length >= 6, 'uploaded in chunks');
  } finally {
    await strict.close();
  }
});
