/**
 * `npm run bench` (second part): the build-log tail's cost. CPU: 200,000 chunks of 100 bytes (a 20 MiB log streamed in small
 * writes) through the tail window alone. Memory: a 2 GiB log (BENCH_LOG_MIB) served over loopback TLS and read by a process of
 * its own (log-tail-reader.ts), alone and four at once, through the former window and the function's own client; the peak RSS
 * above the idle process is printed. A benchmark: it asserts nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TailWindow } from '../../functions/kube/tail-window.js';
import { makeServerPki } from '../registry/test-pki.js';
import { FormerTailWindow } from './former-tail-window.js';

const CHUNKS = 200_000;
const TAIL = 3 * 1024 * 1024;
const MiB = 1024 * 1024;
const LOG_MIB = Number(process.env['BENCH_LOG_MIB'] ?? 2048);

function cpuSeconds(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

const chunk = Buffer.alloc(100, 'x');
chunk[99] = 0x0a;
for (const [name, Window] of [['former', FormerTailWindow], ['current', TailWindow]] as const) {
  let kept = 0;
  const seconds = cpuSeconds(() => {
    const window = new Window(TAIL);
    for (let i = 0; i < CHUNKS; i++) window.push(chunk);
    kept = Buffer.byteLength(window.text());
  });
  console.log(`build-log tail (${name}): ${CHUNKS} chunks of 100 bytes in ${seconds.toFixed(3)} s of CPU (target < 1 s), ${kept} bytes kept`);
}

// One MiB of build-log lines (some with multi-byte characters), sent again and again.
const line = (i: number) => `${String(i).padStart(7, '0')} STEP ${i % 40}: installing package é-${i % 97} ……… done\n`;
let text = '';
for (let i = 0; Buffer.byteLength(text) < MiB; i++) text += line(i);
const block = Buffer.from(text).subarray(0, MiB);

const dir = await mkdtemp(join(tmpdir(), 'bench-log-tail-'));
const pki = await makeServerPki(dir);
const server = createServer({ key: await readFile(pki.keyPath), cert: await readFile(pki.certPath) }, (req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  let sent = 0;
  const more = () => {
    while (sent < LOG_MIB) {
      sent += 1;
      if (!res.write(block)) return void res.once('drain', more);
    }
    res.end();
  };
  more();
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

const reader = new URL(import.meta.url.endsWith('.ts') ? './log-tail-reader.ts' : './log-tail-reader.js', import.meta.url).pathname;
const node = import.meta.url.endsWith('.ts') ? ['--import', 'tsx', reader] : [reader];
async function read(mode: string, count: number): Promise<{ extraMiB: number; seconds: number; kept: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, [...node, mode, String(count), url, pki.caPath]);
  return JSON.parse(stdout) as { extraMiB: number; seconds: number; kept: number };
}

console.log(`\nbuild log of ${LOG_MIB} MiB over loopback TLS, its last 3 MiB kept; extra = peak RSS − RSS of the idle reader process`);
try {
  for (const count of [1, 4]) {
    for (const mode of ['former', 'current']) {
      const result = await read(mode, count);
      console.log(`  ${mode.padEnd(7)} ${count} at once: +${result.extraMiB.toFixed(0)} MiB, ${result.seconds.toFixed(1)} s, ${result.kept} bytes kept`);
    }
  }
} finally {
  server.close();
  await rm(dir, { recursive: true, force: true });
}
