/**
 * Runs one copyImage in its own process and prints `{ result, maxRssBytes, startRssBytes, ms }`
 * as JSON on stdout, so tests and the benchmark can measure the copier's own peak memory
 * (`startRssBytes` is the peak before copying: node and the modules).
 * Usage: node --import tsx copy-child.ts '<json CopyImageOptions without functions>'
 * Credentials are passed as `sourceCredentials` / `destinationCredentials` in the JSON.
 */
import { readFileSync } from 'node:fs';
import { copyImage } from '../../functions/registry/copy-image.js';
import type { CopyImageOptions } from '../../functions/registry/copy-image.js';
import type { RegistryCredentials } from '../../functions/domain/built-image.js';

type ChildInput = Omit<CopyImageOptions, 'sourceAuth' | 'destinationAuth' | 'signal' | 'logger'> & {
  readonly sourceCredentials?: RegistryCredentials;
  readonly destinationCredentials?: RegistryCredentials;
};

function peakRssBytes(): number {
  // VmHWM is the kernel's own high-water mark of resident memory.
  const status = readFileSync('/proc/self/status', 'utf8');
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return match?.[1] === undefined ? process.resourceUsage().maxRSS * 1024 : Number(match[1]) * 1024;
}

const input = JSON.parse(process.argv[2] ?? '{}') as ChildInput;
const { sourceCredentials, destinationCredentials, ...options } = input;
const startRssBytes = peakRssBytes();
const started = performance.now();
const result = await copyImage({
  ...options,
  ...(sourceCredentials === undefined ? {} : { sourceAuth: () => sourceCredentials }),
  ...(destinationCredentials === undefined ? {} : { destinationAuth: () => destinationCredentials }),
});
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ result, maxRssBytes: peakRssBytes(), startRssBytes, ms })}\n`);
