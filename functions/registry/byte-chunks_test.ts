import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { byteChunks } from './byte-chunks.js';

describe('byteChunks', () => {
  it('cuts a stream into consecutive chunks of the lengths asked for, across its own chunk borders', async () => {
    const data = randomBytes(100_000);
    const pieces = [7_000, 30_000, 1, 62_999].reduce<Buffer[]>((all, size) => {
      const from = all.reduce((n, b) => n + b.length, 0);
      return [...all, data.subarray(from, from + size)];
    }, []);
    const next = byteChunks(Readable.from(pieces));
    const chunks: Buffer[] = [];
    for (const length of [16_384, 16_384, 50_000, 17_232]) chunks.push(await buffer(next(length)));
    assert.deepEqual(chunks.map((c) => c.length), [16_384, 16_384, 50_000, 17_232]);
    assert.ok(Buffer.concat(chunks).equals(data));
  });

  it('fails the chunk being read when the source fails', async () => {
    const source = new Readable({ read() {} });
    source.push(Buffer.alloc(10));
    const next = byteChunks(source);
    assert.equal((await buffer(next(5))).length, 5);
    const reading = buffer(next(100));
    source.destroy(new Error('connection lost'));
    await assert.rejects(reading, /connection lost/);
  });

  it('fails a chunk the source ends before', async () => {
    const next = byteChunks(Readable.from([Buffer.alloc(10)]));
    await assert.rejects(buffer(next(11)), /ended 1 bytes before the end of a chunk/);
  });
});
