import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TailWindow } from './tail-window.js';

/** The tail taken the obvious way, on the whole text. */
function naiveTail(text: string, bytes: number): string {
  const buffer = Buffer.from(text);
  if (buffer.length <= bytes) return text;
  const tail = buffer.subarray(buffer.length - bytes).toString('utf8');
  const newline = tail.indexOf('\n');
  return newline >= 0 && newline < tail.length - 1 ? tail.slice(newline + 1) : tail;
}

describe('TailWindow', () => {
  it('keeps what the obvious tail keeps, whatever the chunking', () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'é'.repeat(i % 7)}\n`).join('');
    for (const bytes of [10, 100, 4096, 1_000_000]) {
      for (const chunk of [1, 7, 100, 5000]) {
        const window = new TailWindow(bytes);
        const buffer = Buffer.from(lines);
        for (let at = 0; at < buffer.length; at += chunk) window.push(buffer.subarray(at, at + chunk));
        assert.equal(window.text(), naiveTail(lines, bytes), `bytes ${bytes}, chunks of ${chunk}`);
      }
    }
  });

  it('holds about its size however much streams through it', () => {
    const window = new TailWindow(1000);
    const chunk = Buffer.alloc(100, 'x');
    for (let i = 0; i < 100_000; i++) window.push(chunk);
    assert.ok(Buffer.byteLength(window.text()) <= 1000);
  });
});
