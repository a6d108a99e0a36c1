/**
 * Moves one blob from its source body into upload requests: one PUT, or consecutive PATCHes of given lengths.
 * Every byte is hashed on the way, and digest and size are checked before the last byte leaves, so a corrupt
 * blob is never committed. Chunks go straight from the source into `request.write`, each released only once
 * its write completed: with a pooled source (raw-body-get.ts) the same few buffers carry the whole blob. The
 * source pauses while nothing may be sent (no request yet, or a full socket) and resumes when something may.
 */
import type { Hash } from 'node:crypto';
import type { ClientRequest } from 'node:http';
import type { BlobBody } from './blob-body.js';
import { createHash } from '../builtins.js';
import { digestAlgorithm } from '../domain/image-reference.js';

export type VerifyFailure = 'digest-mismatch' | 'too-long' | 'too-short';

/** Writes a request's body: what `send` in http-transport.ts accepts besides a Buffer. */
export type BodyWriter = (request: ClientRequest) => void;

interface Lent { readonly bytes: Buffer; readonly release: () => void }

interface Target { readonly request: ClientRequest; left: number }

/** Release a chunk split between two requests once both halves have been written. */
function releaseTwice(release: () => void): () => void {
  let uses = 2;
  return () => {
    uses -= 1;
    if (uses === 0) release();
  };
}

export class BlobPump {
  readonly #body: BlobBody;
  readonly #digest: string;
  readonly #size: number;
  readonly #hash: Hash;
  readonly #failure: (why: VerifyFailure | Error) => Error;
  /** Received, hashed, not yet written. */
  readonly #queue: Lent[] = [];
  #target: Target | undefined;
  #bytesIn = 0;
  #verified = false;
  #sourceEnded = false;
  #waitingForDrain = false;
  #paused = false;
  #errored: Error | undefined;
  #stopped = false;
  /** Bytes handed to requests so far. */
  bytesOut = 0;

  /** `failure` turns a verification failure, or the source's own error, into the error the upload fails with. */
  constructor(body: BlobBody, digest: string, size: number, failure: (why: VerifyFailure | Error) => Error) {
    this.#body = body;
    this.#digest = digest;
    this.#size = size;
    this.#hash = createHash(digestAlgorithm(digest));
    this.#failure = failure;
    // Started at once, so a source that fails while no request is sending it yet (one may be
    // waiting for a token) is noticed; it pauses itself when nothing may be sent.
    body.start({ chunk: (bytes, release) => this.#received(bytes, release), end: () => this.#ended(), error: (error) => this.#fail(this.#failure(error)) });
  }

  get errored(): Error | undefined {

    return this.#errored;
  }

  /** The body of a request that carries the blob's next `length` bytes. */
  bodyOf(length: number): BodyWriter {
    return (request) => {
      if (this.#errored !== undefined) {
        request.destroy(this.#errored);
        return;
      }
      this.#target = { request, left: length };
      this.#flush();
    };
  }

  /** Lets the source go, whatever state the pump is in. */
  destroy(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#body.destroy();
    for (const lent of this.#queue.splice(0)) lent.release();
    this.#target = undefined;
  }

  readonly #drained = (): void => {
    this.#waitingForDrain = false;
    this.#flush();
  };

  #received(bytes: Buffer, release: () => void): void {
    if (this.#stopped) {
      release();
      return;
    }
    this.#bytesIn += bytes.length;
    if (this.#bytesIn > this.#size) {
      release();
      this.#fail(this.#failure('too-long'));
      return;
    }
    this.#hash.update(bytes);
    if (this.#bytesIn === this.#size && !this.#verify()) {
      release();
      return;
    }
    this.#queue.push({ bytes, release });
    this.#flush();
  }

  #ended(): void {
    this.#sourceEnded = true;
    if (this.#bytesIn < this.#size) {
      this.#fail(this.#failure('too-short'));
      return;
    }
    // An empty blob has no last chunk to check before.
    if (!this.#verified && !this.#verify()) return;
    this.#flush();
  }

  #verify(): boolean {
    const algorithm = this.#digest.slice(0, this.#digest.indexOf(':') + 1);
    if (`${algorithm}${this.#hash.digest('hex')}` !== this.#digest) {
      this.#fail(this.#failure('digest-mismatch'));
      return false;
    }
    this.#verified = true;
    return true;
  }

  /** Writes what is queued into the current request, as far as it and its socket take it. */
  #flush(): void {
    const target = this.#target;
    if (this.#stopped || target === undefined) {
      this.#pause();
      return;
    }
    while (target.left > 0 && !this.#waitingForDrain) {
      const lent = this.#queue[0];
      if (lent === undefined) break;
      let piece = lent.bytes;
      let release = lent.release;
      if (piece.length > target.left) {
        // The rest of this chunk starts the next request.
        release = releaseTwice(lent.release);
        this.#queue[0] = { bytes: piece.subarray(target.left), release };
        piece = piece.subarray(0, target.left);
      } else {
        this.#queue.shift();
      }
      target.left -= piece.length;
      this.bytesOut += piece.length;
      if (!target.request.write(piece, release)) {
        this.#waitingForDrain = true;
        target.request.once('drain', this.#drained);
      }
    }
    if (target.left === 0 && (this.#verified || this.#bytesIn < this.#size)) {
      // Its last byte is written, and for the blob's last request the digest has been checked.
      // What it still holds is node's to send; the next request has a socket of its own.
      target.request.off('drain', this.#drained);
      this.#waitingForDrain = false;
      target.request.end();
      this.#target = undefined;
      if (this.#queue.length > 0 || !this.#sourceEnded) this.#pause();
      return;
    }
    if (this.#queue.length === 0 && !this.#waitingForDrain) this.#resume();
    else this.#pause();
  }

  #pause(): void {
    if (this.#paused || this.#sourceEnded) return;
    this.#paused = true;
    this.#body.pause();
  }

  #resume(): void {
    if (!this.#paused || this.#stopped) return;
    this.#paused = false;
    this.#body.resume();
  }

  #fail(error: Error): void {
    if (this.#errored !== undefined || this.#stopped) return;
    this.#errored = error;
    const request = this.#target?.request;
    this.destroy();
    request?.destroy(error);
  }
}
