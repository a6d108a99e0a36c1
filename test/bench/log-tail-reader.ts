/**
 * One process of the build-log memory benchmark (test/bench/log-tail.ts starts it): reads `count` logs at once from the
 * benchmark's HTTPS server and prints the peak RSS above the idle process's as JSON.
 * `now`: the function's own `readBuildLog` (functions/kube/objects.ts), which asks for the last lines and at most 3 MiB.
 * `before`: the read before issue 20, the whole log streamed through the tail window (functions/kube/tail-window.ts), as the
 * API client's `readAnswer` fed it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { kubeApiOver } from '../../functions/kube/api.js';
import { readBuildLog } from '../../functions/kube/objects.js';
import { TailWindow } from '../../functions/kube/tail-window.js';

const TAIL = 3 * 1024 * 1024;
const [mode = 'now', countText = '1', server = '', caPath = ''] = process.argv.slice(2);
const ca = await readFile(caPath, 'utf8');
const build = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'bench', name: 'b-1' };
const path = '/apis/build.openshift.io/v1/namespaces/bench/builds/b-1/log';

async function status(): Promise<{ rss: number; hwm: number }> {
  const text = await readFile('/proc/self/status', 'utf8');
  const mib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  return { rss: mib('VmRSS'), hwm: mib('VmHWM') };
}

function beforeRead(): Promise<number> {
  return new Promise((resolve, reject) => {
    request(new URL(path, server), { ca, headers: { Accept: 'text/plain, */*' } }, (res) => {
      void (async () => {
        const tail = new TailWindow(TAIL);
        for await (const chunk of res as AsyncIterable<Buffer>) tail.push(chunk);
        return Buffer.byteLength(tail.text());
      })().then(resolve, reject);
    }).on('error', reject).end();
  });
}

const api = kubeApiOver({ server: new URL(server), contextNamespace: undefined, userToken: undefined, authorize: async (options) => { options.ca = ca; } },
  { timeoutMs: 30 * 60_000 });
const nowRead = async (): Promise<number> => Buffer.byteLength(await readBuildLog(api, build));

const idle = await status();
// The peak from here on (Linux: writing 5 to clear_refs resets VmHWM to the current RSS).
await writeFile('/proc/self/clear_refs', '5');
const started = performance.now();
const kept = await Promise.all(Array.from({ length: Number(countText) }, () => (mode === 'before' ? beforeRead() : nowRead())));
const peak = await status();
console.log(JSON.stringify({ extraMiB: peak.hwm - idle.rss, seconds: (performance.now() - started) / 1000, kept: Math.min(...kept) }));
