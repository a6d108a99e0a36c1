/**
 * The last `bytes` of a stream in one buffer of at most `bytes`, which each chunk is copied into: no chunk is kept, so a log of
 * any size costs that buffer and nothing more. A list of chunks, compacted now and then, held up to a thousand dropped ones
 * (64 MiB of a 2 GiB log read in 64 KiB chunks; README "Benchmarks"). The buffer grows to its bound as text arrives, so a short
 * log costs only its length; once full it is a ring.
 */
const FIRST_CAPACITY = 64 * 1024;

export class TailWindow {
  readonly #bytes: number;
  #buffer: Buffer;
  /** Where the oldest byte kept is; 0 until the buffer is full. */
  #start = 0;
  #length = 0;
  #seen = 0;

  constructor(bytes: number) {
    this.#bytes = bytes;
    this.#buffer = Buffer.allocUnsafe(Math.min(bytes, FIRST_CAPACITY));
  }

  push(chunk: Buffer): void {
    this.#seen += chunk.length;
    const data = chunk.length > this.#bytes ? chunk.subarray(chunk.length - this.#bytes) : chunk;
    this.#reserve(this.#length + data.length);
    const capacity = this.#buffer.length;
    const dropped = this.#length + data.length - capacity;
    if (dropped > 0) {
      this.#start = (this.#start + dropped) % capacity;
      this.#length -= dropped;
    }
    const at = (this.#start + this.#length) % capacity;
    const before = Math.min(data.length, capacity - at);
    data.copy(this.#buffer, at, 0, before);
    if (before < data.length) data.copy(this.#buffer, 0, before);
    this.#length += data.length;
  }

  /** The text kept, starting at a line start when anything was cut, so no broken line (or broken character) leads it. */
  text(): string {
    const end = this.#start + this.#length;
    const kept = end <= this.#buffer.length ? this.#buffer.subarray(this.#start, end)
      : Buffer.concat([this.#buffer.subarray(this.#start), this.#buffer.subarray(0, end - this.#buffer.length)]);
    if (this.#seen <= this.#bytes) return kept.toString('utf8');
    const tail = withoutLeadingFragment(kept).toString('utf8');
    const newline = tail.indexOf('\n');
    return newline >= 0 && newline < tail.length - 1 ? tail.slice(newline + 1) : tail;
  }

  /** Grows the buffer (never past `bytes`) while it is not yet full, so nothing wraps before it must. */
  #reserve(needed: number): void {
    if (needed <= this.#buffer.length || this.#buffer.length === this.#bytes) return;
    const grown = Buffer.allocUnsafe(Math.min(this.#bytes, Math.max(needed, this.#buffer.length * 2)));
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }
}

/** The rest of a character the cut went through (UTF-8 continuation bytes, 10xxxxxx) is dropped, not decoded as U+FFFD. */
function withoutLeadingFragment(bytes: Buffer): Buffer {
  let at = 0;
  while (at < 3 && at < bytes.length && ((bytes[at] ?? 0) & 0xc0) === 0x80) at += 1;
  return bytes.subarray(at);
}
