import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { DigestVerifier } from './digest-verifier.js';

const chunks = [Buffer.from('first chunk '), Buffer.from('second chunk '), Buffer.from('last chunk')];
const whole = Buffer.concat(chunks);
const digest = `sha256:${createHash('sha256').update(whole).digest('hex')}`;

async function run(input: Buffer[], expectedDigest: string, expectedSize: number): Promise<{ out: Buffer; error: unknown; bytesOut: number }> {
  const received: Buffer[] = [];
  const verifier = new DigestVerifier(expectedDigest, expectedSize, (why) => new Error(why));
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { received.push(chunk); cb(); } });
  const error = await pipeline(Readable.from(input), verifier, sink).then(() => undefined, (e: unknown) => e);
  return { out: Buffer.concat(received), error, bytesOut: verifier.bytesOut };
}

describe('DigestVerifier', () => {
  it('passes matching bytes through unchanged and counts them', async () => {
    const { out, error, bytesOut } = await run(chunks, digest, whole.length);
    assert.equal(error, undefined);
    assert.deepEqual(out, whole);
    assert.equal(bytesOut, whole.length);
  });

  it('fails on a mismatch before the last chunk leaves', async () => {
    const corrupt = [chunks[0] as Buffer, Buffer.from('SECOND chunk '), chunks[2] as Buffer];
    const { out, error } = await run(corrupt, digest, whole.length);
    assert.equal((error as Error).message, 'digest-mismatch');
    assert.ok(out.length < whole.length, 'the final chunk was held back');
  });

  it('fails early when more bytes come than the descriptor says', async () => {
    const { error } = await run(chunks, digest, whole.length - 1);
    assert.equal((error as Error).message, 'too-long');
  });

  it('tells a short stream from a corrupt one', async () => {
    const { error } = await run(chunks.slice(0, 2), digest, whole.length);
    assert.equal((error as Error).message, 'too-short');
  });

  it('accepts the empty blob', async () => {
    const empty = `sha256:${createHash('sha256').digest('hex')}`;
    const { error, bytesOut } = await run([], empty, 0);
    assert.equal(error, undefined);
    assert.equal(bytesOut, 0);
  });
});
