/**
 * A pass-through stream that hashes a blob as it flows and fails before its last chunk leaves
 * when the bytes do not match the expected digest and size, so a corrupt blob is never
 * committed at the destination.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { noteBytesStreamed } from './buffer-reclaim.js';

export type VerifyFailure = 'digest-mismatch' | 'too-long' | 'too-short';

export class DigestVerifier extends Transform {
  readonly #expectedDigest: string;
  readonly #expectedSize: number;
  readonly #hash: Hash;
  readonly #fail: (why: VerifyFailure) => Error;
  #held: Buffer | undefined;
  /** Bytes passed downstream so far. */
  bytesOut = 0;
  #bytesIn = 0;

  constructor(expectedDigest: string, expectedSize: number, fail: (why: VerifyFailure) => Error) {
    // Small buffers: blobs stream side by side, and memory must not grow with their number.
    super({ highWaterMark: 128 * 1024 });
    this.#expectedDigest = expectedDigest;
    this.#expectedSize = expectedSize;
    this.#hash = createHash(expectedDigest.startsWith('sha512:') ? 'sha512' : 'sha256');
    this.#fail = fail;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytesIn += chunk.length;
    if (this.#bytesIn > this.#expectedSize) {
      callback(this.#fail('too-long'));
      return;
    }
    this.#hash.update(chunk);
    noteBytesStreamed(chunk.length);
    const previous = this.#held;
    this.#held = chunk;
    if (previous !== undefined) this.bytesOut += previous.length;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#bytesIn < this.#expectedSize) {
      callback(this.#fail('too-short'));
      return;
    }
    const algorithm = this.#expectedDigest.slice(0, this.#expectedDigest.indexOf(':') + 1);
    if (`${algorithm}${this.#hash.digest('hex')}` !== this.#expectedDigest) {
      callback(this.#fail('digest-mismatch'));
      return;
    }
    if (this.#held !== undefined) this.bytesOut += this.#held.length;
    callback(null, this.#held);
  }
}
