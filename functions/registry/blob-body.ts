/**
 * A blob's bytes as they arrive from the source registry, lent chunk by chunk. A chunk's memory may be reused as soon as its
 * `release` is called: a raw read (raw-body-get.ts) reads into a few buffers of its own over and over, so a blob of any size
 * leaves no garbage behind for the GC to catch up with, and the copier's memory stays flat without forcing collections.
 */
import type { Readable } from 'node:stream';

export interface BlobChunkHandler {
  /** `bytes` stays valid until `release` is called, which must happen exactly once. */
  chunk(bytes: Buffer, release: () => void): void;
  /** The source ended; whether it sent every byte is the consumer's to check. */
  end(): void;
  error(error: Error): void;
}

export interface BlobBody {
  start(handler: BlobChunkHandler): void;
  pause(): void;
  resume(): void;
  /** Stops reading and lets the connection go; no handler call follows. */
  destroy(): void;
}

const nothingToRelease = (): void => undefined;

/** A body that node:http (or any Readable) delivers: its chunks are fresh Buffers, nothing to reuse. */
export function readableBody(readable: Readable): BlobBody {
  let done = false;
  return {
    start(handler) {
      const finish = (then: () => void): void => {
        if (done) return;
        done = true;
        then();
      };
      readable.on('data', (bytes: Buffer) => {
        if (!done) handler.chunk(bytes, nothingToRelease);
      });
      readable.once('end', () => finish(() => handler.end()));
      readable.once('error', (error) => finish(() => handler.error(error)));
      // node:http emits 'error' on a connection cut mid-body; anything else that closes early is reported as such rather than
      // left waiting.
      readable.once('close', () => finish(() => handler.error(Object.assign(new Error('body closed early'), { code: 'ECONNRESET' }))));
    },
    pause: () => readable.pause(),
    resume: () => readable.resume(),
    destroy: () => {
      // A body read to its end has nothing left to stop (and its socket goes back to the pool).
      if (done) return;
      done = true;
      readable.destroy();
    },
  };
}
