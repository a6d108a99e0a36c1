import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BuildWatcherError } from '../errors.js';
import { redact } from '../observability/redact.js';
import { resolveCredentials } from './token-file.js';

describe('resolveCredentials', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'token-file-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads the token at each use, so a rotated token is the one sent, and redacts it', async () => {
    const tokenPath = path.join(dir, 'token');
    await writeFile(tokenPath, 'first-token-value\n');
    assert.deepEqual(await resolveCredentials({ kind: 'service-account-token', tokenPath }), { username: 'build-watcher', password: 'first-token-value' });
    await writeFile(tokenPath, 'rotated-token-value');
    assert.equal((await resolveCredentials({ kind: 'service-account-token', tokenPath }))?.password, 'rotated-token-value');
    assert.doesNotMatch(redact('sent rotated-token-value'), /rotated-token-value/);
  });

  it('refuses, naming the error code only, when the token file is missing or empty', async () => {
    const refusedWith = (pattern: RegExp) => (error: unknown) => error instanceof BuildWatcherError && error.kind === 'refused' && pattern.test(error.message);
    await assert.rejects(resolveCredentials({ kind: 'service-account-token', tokenPath: path.join(dir, 'absent') }), refusedWith(/cannot be read \(ENOENT\)$/));
    await writeFile(path.join(dir, 'empty'), ' \n');
    await assert.rejects(resolveCredentials({ kind: 'service-account-token', tokenPath: path.join(dir, 'empty') }), refusedWith(/is empty$/));
  });

  it('refuses a token file that is a device, a FIFO or over 4 MiB without reading it whole (issue 20, item 8)', { timeout: 60_000 }, async () => {
    const refusedWith = (pattern: RegExp) => (error: unknown) => error instanceof BuildWatcherError && error.kind === 'refused' && pattern.test(error.message);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const big = path.join(dir, 'big');
    await writeFile(big, 'x'.repeat(4 * 1024 * 1024 + 1));
    await assert.rejects(resolveCredentials({ kind: 'service-account-token', tokenPath: big }), refusedWith(/cannot be read \(larger than 4 MiB\)$/));
    await assert.rejects(resolveCredentials({ kind: 'service-account-token', tokenPath: '/dev/zero' }), refusedWith(/cannot be read \(not a regular file\)$/));
    await assert.rejects(resolveCredentials({ kind: 'service-account-token', tokenPath: fifo }), refusedWith(/cannot be read \(not a regular file\)$/));
  });

  it('passes basic credentials as they are, and none as none', async () => {
    const credentials = { username: 'u', password: 'p' };
    assert.equal(await resolveCredentials({ kind: 'basic', credentials }), credentials);
    assert.equal(await resolveCredentials({ kind: 'none' }), undefined);
  });
});
