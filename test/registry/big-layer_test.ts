/**
 * A layer far larger than the memory the copier may use: copied in its own process, whose
 * peak resident memory must stay flat. Measured: +22 MiB; +85 MiB without reclaiming dead
 * socket buffers (buffer-reclaim.ts); the layer itself is 305 MiB.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, it } from 'node:test';
import type { CopyResult } from '../../functions/registry/copy-image.js';
import { pushTestImage, startRegistry, TestRegistryClient } from './docker-registry.js';
import type { RunningRegistry } from './docker-registry.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const LAYER = 320 * 1000 * 1000;
/** What streaming may add to the process's own start-up peak; the layer is ten times that. */
const GROWTH_BUDGET = 40 * MiB;

let source: RunningRegistry;
let destination: RunningRegistry;
before(async () => {
  [source, destination] = await Promise.all([startRegistry(), startRegistry()]);
});
after(async () => {
  await Promise.all([source, destination].filter((r) => r !== undefined).map((r) => r.stop()));
});

it('streams a 320 MB layer with flat memory and an intact result', { timeout: 180_000 }, async () => {
  const image = await pushTestImage(source, { repository: 'huge/app', tag: 'v1', layerSizes: [LAYER] });
  const child = fileURLToPath(new URL('./copy-child.ts', import.meta.url));
  const input = {
    source: { registry: source.host, repository: 'huge/app', tag: 'v1' },
    destination: { registry: destination.host, repository: 'huge/app', tag: 'v1' },
  };
  const { stdout } = await run(process.execPath, ['--import', 'tsx', child, JSON.stringify(input)], { timeout: 150_000 });
  const { result, maxRssBytes, startRssBytes } = JSON.parse(stdout) as { result: CopyResult; maxRssBytes: number; startRssBytes: number };
  assert.equal(result.digest, image.digest);
  assert.equal(result.bytesSent, image.blobBytes);
  const growth = maxRssBytes - startRssBytes;
  assert.ok(growth < GROWTH_BUDGET, `peak RSS grew by ${(growth / MiB).toFixed(1)} MiB while streaming (budget ${GROWTH_BUDGET / MiB} MiB)`);
  const client = new TestRegistryClient(destination);
  assert.equal((await client.getManifest('huge/app', 'v1'))?.digest, image.digest);
  for (const digest of image.blobDigests) assert.ok(await client.blobExists('huge/app', digest));
});
