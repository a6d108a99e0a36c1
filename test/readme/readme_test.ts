/**
 * The README stays true: every command in a ```bash runnable block works as written, and every
 * environment variable the code reads is documented.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CONFIG_VARIABLES } from '../../functions/config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function readme(): Promise<string> {
  return readFile(path.join(ROOT, 'README.md'), 'utf8');
}

export function runnableCommands(text: string): string[] {
  const commands: string[] = [];
  for (const match of text.matchAll(/```bash runnable\n([\s\S]*?)```/g)) {
    for (const line of (match[1] ?? '').split('\n')) {
      const command = line.replace(/#.*$/, '').trim();
      if (command !== '') commands.push(command);
    }
  }
  return commands;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('_test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

function run(command: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('README', () => {
  it('documents every configuration variable in its table', async () => {
    const text = await readme();
    const rows = text.split('\n').filter((line) => line.startsWith('| `'));
    for (const name of CONFIG_VARIABLES) {
      assert.ok(rows.some((row) => (row.split('|')[1] ?? '').includes(`\`${name}\``)), `${name} is missing from the README's configuration table`);
    }
  });

  it('mentions every environment variable the product code reads', async () => {
    const text = await readme();
    const files = await sourceFiles(path.join(ROOT, 'functions'));
    const read = new Set<string>();
    for (const file of files) {
      const code = await readFile(file, 'utf8');
      for (const match of code.matchAll(/process\.env(?:\[['"]|\.)([A-Z_][A-Z0-9_]*)/g)) read.add(match[1] ?? '');
    }
    for (const name of [...read, ...CONFIG_VARIABLES]) assert.ok(text.includes(name), `${name} is read by the code but not in the README`);
  });

  it('has exactly the two set-up commands of the quick start, runnable', async () => {
    assert.deepEqual(runnableCommands(await readme()), ['npm run demo -- --once', 'npm test']);
  });

  it('every runnable command works as written', { timeout: 900_000 }, async () => {
    for (const command of runnableCommands(await readme())) {
      // `npm test` is the command running this very check: its success is this run's.
      if (command === 'npm test' && process.env['npm_lifecycle_event'] === 'test') continue;
      const { code, output } = await run(command);
      assert.equal(code, 0, `${command} failed:\n${output.split('\n').slice(-30).join('\n')}`);
    }
  });
});
