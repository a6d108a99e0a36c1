import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { readableBody } from './blob-body.js';
import type { BlobBody, BlobChunkHandler } from './blob-body.js';
import { BlobPump } from './blob-pump.js';
import type { BodyWriter } from './blob-pump.js';
import { createAgents, send } from './http-transport.js';
import type { Agents } from './http-transport.js';

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const chunks = [Buffer.from('first chunk '), Buffer.from('second chunk '), Buffer.from('last chunk')];
const whole = Buffer.concat(chunks);
const digest = sha256(whole);
const failure = (why: string | Error): Error => (why instanceof Error ? why : new Error(why));

/** A source that lends each chunk from a buffer of its own and counts what is not yet released. */
function lendingBody(pieces: readonly Buffer[], options: { readonly endEarly?: boolean } = {}): BlobBody & { readonly outstanding: () => number; readonly most: () => number } {
  let handler: BlobChunkHandler | undefined;
  let paused = false;
  let next = 0;
  let outstanding = 0;
  let most = 0;
  let ended = false;
  const pump = (): void => {
    while (handler !== undefined && !paused && next < pieces.length) {
      const bytes = Buffer.from(pieces[next++] as Buffer);
      outstanding += 1;
      most = Math.max(most, outstanding);
      let released = false;
      handler.chunk(bytes, () => {
        assert.equal(released, false, 'released once');
        released = true;
        // A pooled source reuses the memory at once: anything still reading it would see this.
        bytes.fill(0);
        outstanding -= 1;
      });
    }
    if (handler !== undefined && !paused && next === pieces.length && !ended) {
      ended = true;
      if (options.endEarly === true) handler.error(new Error('connection lost'));
      else handler.end();
    }
  };
  return {
    start: (events) => { handler = events; setImmediate(pump); },
    pause: () => { paused = true; },
    resume: () => { paused = false; setImmediate(pump); },
    destroy: () => { handler = undefined; },
    outstanding: () => outstanding,
    most: () => most,
  };
}

describe('BlobPump', () => {
  let server: Server;
  let agents: Agents;
  let url: URL;
  const received: Buffer[] = [];
  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const parts: Buffer[] = [];
      req.on('data', (part: Buffer) => parts.push(part));
      req.on('end', () => {
        received.push(Buffer.concat(parts));
        res.writeHead(201).end();
      });
      req.on('error', () => received.push(Buffer.concat(parts)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`);
    agents = await createAgents({}, 4);
  });
  after(async () => {
    agents.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const put = async (body: BodyWriter, length: number): Promise<number> => {
    const res = await send({
      method: 'PUT', url, headers: { 'content-length': String(length) }, body, agents, idleTimeoutMs: 5_000, signal: new AbortController().signal,
    });
    res.resume();
    return res.statusCode ?? 0;
  };

  it('sends matching bytes unchanged, counts them, and releases every chunk once it is written', async () => {
    received.length = 0;
    const source = lendingBody(chunks);
    const pump = new BlobPump(source, digest, whole.length, failure);
    assert.equal(await put(pump.bodyOf(whole.length), whole.length), 201);
    assert.deepEqual(received, [whole]);
    assert.equal(pump.bytesOut, whole.length);
    assert.equal(source.outstanding(), 0);
    pump.destroy();
  });

  it('splits the blob across consecutive requests at the given lengths, chunks straddling them', async () => {
    received.length = 0;
    const source = lendingBody(chunks);
    const pump = new BlobPump(source, digest, whole.length, failure);
    const lengths = [5, 20, whole.length - 25];
    for (const length of lengths) assert.equal(await put(pump.bodyOf(length), length), 201);
    assert.deepEqual(received.map((r) => r.length), lengths);
    assert.deepEqual(Buffer.concat(received), whole);
    assert.equal(source.outstanding(), 0);
    pump.destroy();
  });

  it('takes no more from its source while nothing may be sent', async () => {
    const many = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i));
    const all = Buffer.concat(many);
    const source = lendingBody(many);
    const pump = new BlobPump(source, sha256(all), all.length, failure);
    // No request yet: the pump pauses its source instead of queueing the blob.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(source.most() <= 2, `held ${source.most()} chunks before any request`);
    received.length = 0;
    assert.equal(await put(pump.bodyOf(all.length), all.length), 201);
    assert.deepEqual(received, [all]);
    pump.destroy();
  });

  it('fails on a mismatch before the last byte leaves', async () => {
    received.length = 0;
    const corrupt = [chunks[0] as Buffer, Buffer.from('SECOND chunk '), chunks[2] as Buffer];
    const pump = new BlobPump(lendingBody(corrupt), digest, whole.length, failure);
    await assert.rejects(put(pump.bodyOf(whole.length), whole.length), /digest-mismatch/);
    assert.equal(pump.errored?.message, 'digest-mismatch');
    assert.ok((received[0]?.length ?? 0) < whole.length, 'the last chunk was held back');
  });

  it('fails early when more bytes come than the descriptor says', async () => {
    const pump = new BlobPump(lendingBody(chunks), digest, whole.length - 1, failure);
    await assert.rejects(put(pump.bodyOf(whole.length - 1), whole.length - 1), /too-long/);
  });

  it('tells a short source from a corrupt one, and passes on its own error', async () => {
    const short = new BlobPump(lendingBody(chunks.slice(0, 2)), digest, whole.length, failure);
    await assert.rejects(put(short.bodyOf(whole.length), whole.length), /too-short/);
    const cut = new BlobPump(lendingBody(chunks.slice(0, 2), { endEarly: true }), digest, whole.length, failure);
    await assert.rejects(put(cut.bodyOf(whole.length), whole.length), /connection lost/);
  });

  it('fails a request at once when its source failed before the request started', async () => {
    const pump = new BlobPump(lendingBody([Buffer.from('not it')]), digest, 6, failure);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(pump.errored?.message, 'digest-mismatch');
    const started = Date.now();
    await assert.rejects(put(pump.bodyOf(6), 6), /digest-mismatch/);
    assert.ok(Date.now() - started < 2_000, 'did not wait for the idle timeout');
  });

  it('accepts the empty blob, and a body node:http delivers', async () => {
    received.length = 0;
    const empty = new BlobPump(readableBody(Readable.from([])), sha256(Buffer.alloc(0)), 0, failure);
    assert.equal(await put(empty.bodyOf(0), 0), 201);
    const streamed = new BlobPump(readableBody(Readable.from(chunks)), digest, whole.length, failure);
    assert.equal(await put(streamed.bodyOf(whole.length), whole.length), 201);
    assert.deepEqual(received, [Buffer.alloc(0), whole]);
  });
});
