/**
 * Cuts one stream into consecutive streams of given lengths, for chunked uploads: each chunk
 * pulls from the source only as it is read, so no chunk is ever held whole.
 */
import { Readable } from 'node:stream';

/** Each call returns the next `length` bytes of `source` as a stream of their own. */
export function byteChunks(source: Readable): (length: number) => Readable {
  // One iterator for all chunks: bytes read past a chunk's end wait here for the next chunk.
  const reads = source.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  let carried: Buffer | undefined;
  return (length) => Readable.from((async function* chunk() {
    for (let left = length; left > 0;) {
      let bytes = carried;
      carried = undefined;
      if (bytes === undefined) {
        const read = await reads.next();
        if (read.done === true) throw new Error(`stream ended ${left} bytes before the end of a chunk`);
        bytes = read.value;
      }
      if (bytes.length > left) {
        carried = bytes.subarray(left);
        bytes = bytes.subarray(0, left);
      }
      left -= bytes.length;
      yield bytes;
    }
  })(), { objectMode: false, highWaterMark: 64 * 1024 });
}
