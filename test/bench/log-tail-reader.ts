/**
 * One process of the build-log memory benchmark (test/bench/log-tail.ts starts it): reads `count` logs at once from the
 * benchmark's HTTPS server, keeping each one's last 3 MiB, and prints the peak RSS above the idle process's as JSON.
 * `current`: the function's own API client (functions/kube/api.ts). `former`: the tail window before issue 19, fed the way
 * that client's `readAnswer` fed it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { kubeApiOver } from '../../functions/kube/api.js';
import { FormerTailWindow } from './former-tail-window.js';

const TAIL = 3 * 1024 * 1024;
const [mode = 'current', countText = '1', server = '', caPath = ''] = process.argv.slice(2);
const ca = await readFile(caPath, 'utf8');
const path = '/apis/build.openshift.io/v1/namespaces/bench/builds/b-1/log';

async function status(): Promise<{ rss: number; hwm: number }> {
  const text = await readFile('/proc/self/status', 'utf8');
  const mib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  return { rss: mib('VmRSS'), hwm: mib('VmHWM') };
}

function formerRead(): Promise<number> {
  return new Promise((resolve, reject) => {
    request(new URL(path, server), { ca, headers: { Accept: 'text/plain, */*' } }, (res) => {
      void (async () => {
        const tail = new FormerTailWindow(TAIL);
        for await (const chunk of res as AsyncIterable<Buffer>) tail.push(chunk);
        return Buffer.byteLength(tail.text());
      })().then(resolve, reject);
    }).on('error', reject).end();
  });
}

const api = kubeApiOver({ server: new URL(server), contextNamespace: undefined, userToken: undefined, authorize: async (options) => { options.ca = ca; } },
  { timeoutMs: 30 * 60_000 });
const currentRead = async (): Promise<number> =>
  Buffer.byteLength((await api.request({ method: 'GET', path, accept: 'text/plain, */*', keepTailBytes: TAIL })).text);

const idle = await status();
// The peak from here on (Linux: writing 5 to clear_refs resets VmHWM to the current RSS).
await writeFile('/proc/self/clear_refs', '5');
const started = performance.now();
const kept = await Promise.all(Array.from({ length: Number(countText) }, () => (mode === 'former' ? formerRead() : currentRead())));
const peak = await status();
console.log(JSON.stringify({ extraMiB: peak.hwm - idle.rss, seconds: (performance.now() - started) / 1000, kept: Math.min(...kept) }));
