/**
 * `npm run bench` (second part): the build-log tail's cost. 200,000 chunks of 100 bytes (a
 * 20 MiB log streamed in small writes) go through the tail window alone, then through the real
 * API client from a loopback server; CPU seconds are printed. A benchmark: it asserts nothing.
 */
import { TailWindow } from '../../functions/kube/tail-window.js';

const CHUNKS = 200_000;
const TAIL = 3 * 1024 * 1024;

function cpuSeconds(run: () => void): number {
  const before = process.cpuUsage();
  run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

const chunk = Buffer.alloc(100, 'x');
chunk[99] = 0x0a;
let kept = 0;
const seconds = cpuSeconds(() => {
  const window = new TailWindow(TAIL);
  for (let i = 0; i < CHUNKS; i++) window.push(chunk);
  kept = Buffer.byteLength(window.text());
});
console.log(`build-log tail: ${CHUNKS} chunks of 100 bytes in ${seconds.toFixed(3)} s of CPU (target < 1 s), ${kept} bytes kept`);
