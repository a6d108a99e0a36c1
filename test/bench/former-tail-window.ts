/** The build-log tail window before issue 19 (a list of chunks, compacted now and then), kept only so `npm run bench` can measure it beside the current one. */
export class FormerTailWindow {
  readonly #bytes: number;
  #chunks: Buffer[] = [];
  #first = 0;
  #size = 0;
  #cut = false;

  constructor(bytes: number) { this.#bytes = bytes; }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#chunks.length - this.#first > 1 && this.#size - (this.#chunks[this.#first]?.length ?? 0) >= this.#bytes) {
      this.#size -= this.#chunks[this.#first]?.length ?? 0;
      this.#first += 1;
      this.#cut = true;
    }
    // Compact now and then: amortised O(1) per chunk, and the dropped chunks can be collected.
    if (this.#first > 1024 && this.#first * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }

  /** The text kept, starting at a line start when anything was cut, so no broken line leads it. */
  text(): string {
    const buffer = Buffer.concat(this.#first === 0 ? this.#chunks : this.#chunks.slice(this.#first));
    if (!this.#cut && buffer.length <= this.#bytes) return buffer.toString('utf8');
    const tail = buffer.subarray(Math.max(0, buffer.length - this.#bytes)).toString('utf8');
    const newline = tail.indexOf('\n');
    return newline >= 0 && newline < tail.length - 1 ? tail.slice(newline + 1) : tail;
  }
}
