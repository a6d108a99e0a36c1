/**
 * `npm run bench` (second part): the build-log tail's cost. CPU: 200,000 chunks of 100 bytes (a 20 MiB log streamed in small
 * writes) through the tail window alone. Memory: a 256 MiB and a 2 GiB log (BENCH_LOG_MIB, comma-separated) served over
 * loopback TLS as OpenShift serves it (tailLines, limitBytes) and read by a process of its own (log-tail-reader.ts), alone and
 * four at once, the way before issue 20 and through the function's readBuildLog; the peak RSS above the idle process is
 * printed. A benchmark: it asserts nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TailWindow } from '../../functions/kube/tail-window.js';
import { lastLinesStart, selectBuildLog } from '../harness/build-log-options.js';
import { makeServerPki } from '../registry/test-pki.js';
import { FormerTailWindow } from './former-tail-window.js';

const CHUNKS = 200_000;
const TAIL = 3 * 1024 * 1024;
const MiB = 1024 * 1024;

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

// About one MiB of build-log lines (some with multi-byte characters), whole lines, sent again and again.
const line = (i: number) => `${String(i).padStart(7, '0')} STEP ${i % 40}: installing package é-${i % 97} ……… done\n`;
let text = '';
for (let i = 0; Buffer.byteLength(text) < MiB; i++) text += line(i);
const block = Buffer.from(text);

/**
 * A log of `blocks` blocks, cut as OpenShift cuts it (STAND-IN: build-log-options.ts, the API front's own rule): where its
 * last n lines begin is counted in whole blocks, and in the block for the rest.
 */
function serveLog(query: URLSearchParams, blocks: number, res: ServerResponse): void {
  const linesPerBlock = block.toString('latin1').split('\n').length - 1;
  const size = blocks * block.length;
  const lineStart = (lines: number): number => {
    if (lines >= blocks * linesPerBlock) return 0;
    const whole = Math.floor(lines / linesPerBlock);
    const rest = lines % linesPerBlock;
    return size - whole * block.length - (rest === 0 ? 0 : block.length - lastLinesStart(block, rest));
  };
  const selected = selectBuildLog(query, size, lineStart);
  if ('invalid' in selected) return void res.writeHead(400).end();
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
  let at = selected.start;
  const more = () => {
    while (at < selected.end && !res.destroyed) {
      const offset = at % block.length;
      const piece = block.subarray(offset, Math.min(block.length, offset + selected.end - at));
      at += piece.length;
      if (!res.write(piece)) return void res.once('drain', more);
    }
    res.end();
  };
  more();
}

const sizes = (process.env['BENCH_LOG_MIB'] ?? '256,2048').split(',').map(Number);
let blocks = 0;
const dir = await mkdtemp(join(tmpdir(), 'bench-log-tail-'));
const pki = await makeServerPki(dir);
const server = createServer({ key: await readFile(pki.keyPath), cert: await readFile(pki.certPath) }, (req, res) => {
  req.resume();
  serveLog(new URL(req.url ?? '/', 'https://bench.invalid').searchParams, blocks, res);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

const reader = new URL(import.meta.url.endsWith('.ts') ? './log-tail-reader.ts' : './log-tail-reader.js', import.meta.url).pathname;
const node = import.meta.url.endsWith('.ts') ? ['--import', 'tsx', reader] : [reader];
async function read(mode: string, count: number): Promise<{ extraMiB: number; seconds: number; kept: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, [...node, mode, String(count), url, pki.caPath]);
  return JSON.parse(stdout) as { extraMiB: number; seconds: number; kept: number };
}

console.log('\nbuild log over loopback TLS, at most its last 3 MiB kept; extra = peak RSS − RSS of the idle reader process');
console.log('before: the whole log streamed through the tail window (issue 19); now: readBuildLog asks for tailLines and limitBytes');
try {
  for (const mib of sizes) {
    blocks = mib;
    for (const count of [1, 4]) {
      for (const mode of ['before', 'now']) {
        const result = await read(mode, count);
        console.log(`  ${String(mib).padStart(5)} MiB log, ${mode.padEnd(6)} ${count} at once: +${result.extraMiB.toFixed(0)} MiB, ${result.seconds.toFixed(2)} s, ${result.kept} bytes kept`);
      }
    }
  }
} finally {
  server.close();
  await rm(dir, { recursive: true, force: true });
}
