/**
 * The command line, run as a child process, refuses files it must not read whole (functions/local-file.ts): a device, a
 * FIFO, a directory, a file over 4 MiB, as the kubeconfig, a file the kubeconfig names, the token file or the CA bundle.
 * Each run ends with a non-zero status and one line saying why.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { within } from '../../test/harness/wait.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Run { readonly code: number | null; readonly stderr: string }

/** Runs the CLI to its end; a child still running after the wait is killed, and the test fails. */
async function runCli(args: readonly string[], env: Readonly<Record<string, string>>): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'functions/cli/main.ts'), ...args], {
    cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', HOME: '/nonexistent', THOTH_USER_API_HOST: 'thoth.invalid', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk.slice(0, 64 * 1024); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    return { code: await within(exited, { what: `build-watcher ${args.join(' ')}`, timeoutMs: 60_000 }), stderr };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

function kubeconfig(server: string, extra: { caFile?: string; tokenFile?: string } = {}): string {
  return [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    `clusters: [{name: k, cluster: {server: "${server}"${extra.caFile ? `, certificate-authority: "${extra.caFile}"` : ''}}}]`,
    'contexts: [{name: c, context: {cluster: k, user: u, namespace: ns}}]',
    'users: [{name: u, user: {token: s3cr3t-cli-token}}]', '',
  ].join('\n');
}

function assertOneLineWhy(run: Run, file: string, why: RegExp): void {
  assert.notEqual(run.code, 0, run.stderr);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.ok(lines[0]?.includes(file), run.stderr);
  assert.match(lines[0] ?? '', why);
  assert.doesNotMatch(run.stderr, /s3cr3t/);
}

describe('the command line reads no file without a bound (issue 20, item 8)', { timeout: 300_000 }, () => {
  let dir = '';
  let fifo = '';
  let big = '';
  let good = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cli-local-files-'));
    fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    big = path.join(dir, 'big');
    // A valid kubeconfig behind 5 MiB of comments: read whole, it would load.
    await writeFile(big, `${`#${'x'.repeat(1023)}\n`.repeat(5 * 1024)}${kubeconfig('https://127.0.0.1:1')}`);
    good = path.join(dir, 'kubeconfig');
    await writeFile(good, kubeconfig('https://127.0.0.1:1'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--kubeconfig /dev/zero: refused as not a regular file, at once', async () => {
    assertOneLineWhy(await runCli(['analyze-existing', '--kubeconfig', '/dev/zero'], {}), '/dev/zero', /not a regular file/);
  });

  it('--kubeconfig naming a FIFO: refused without waiting for a writer', async () => {
    assertOneLineWhy(await runCli(['analyze-existing', '--kubeconfig', fifo], {}), fifo, /not a regular file/);
  });

  it('KUBECONFIG naming a directory, or a file over 4 MiB: refused', async () => {
    assertOneLineWhy(await runCli(['analyze-existing'], { KUBECONFIG: `${good}${path.delimiter}${dir}` }), dir, /not a regular file|EISDIR/);
    assertOneLineWhy(await runCli(['analyze-existing', '--kubeconfig', big], {}), big, /larger than 4 MiB/);
  });

  it('a certificate-authority file the kubeconfig names, that is /dev/zero: refused before any request', async () => {
    const file = path.join(dir, 'ca-zero');
    await writeFile(file, kubeconfig('https://127.0.0.1:1', { caFile: '/dev/zero' }));
    assertOneLineWhy(await runCli(['analyze-existing', '--kubeconfig', file], {}), '/dev/zero', /not a regular file/);
  });

  it('a token-file the kubeconfig names, that is a FIFO: refused before the kubeconfig is parsed', async () => {
    const file = path.join(dir, 'token-fifo');
    await writeFile(file, kubeconfig('https://127.0.0.1:1').replace('{token: s3cr3t-cli-token}', `{token-file: "${fifo}"}`));
    assertOneLineWhy(await runCli(['analyze-existing', '--kubeconfig', file], {}), fifo, /not a regular file/);
  });

  it('THOTH_CA_BUNDLE as a FIFO: a configuration error, exit 2', async () => {
    const run = await runCli(['analyze-existing', '--kubeconfig', good], { THOTH_CA_BUNDLE: fifo });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /THOTH_CA_BUNDLE.*not a regular file/);
  });
});
