import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TailWindow } from './tail-window.js';

/** The tail taken the obvious way, on the whole text. */
function naiveTail(text: string, bytes: number): string {
  const buffer = Buffer.from(text);
  if (buffer.length <= bytes) return text;
  let start = buffer.length - bytes;
  while (((buffer[start] ?? 0) & 0xc0) === 0x80) start += 1;
  const tail = buffer.subarray(start).toString('utf8');
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

  it('starts at the line after the cut, and a character split by the cut never leads it', () => {
    // 'é' is two bytes: the last 9 bytes start inside the first line's last é.
    const window = new TailWindow(9);
    window.push(Buffer.from('aé\nbcd\n'));
    window.push(Buffer.from('ef\n'));
    assert.equal(window.text(), 'bcd\nef\n');
    const unbroken = new TailWindow(10);
    unbroken.push(Buffer.from('éxxxxxx€'));
    assert.equal(unbroken.text(), 'xxxxxx€', 'no newline to cut at: the rest of the broken character is dropped');
    const three = new TailWindow(5);
    three.push(Buffer.from('€€'));
    assert.equal(three.text(), '€', 'two bytes of a three-byte character');
  });

  it('keeps a copy: a chunk its sender reuses after push does not change the tail', () => {
    const window = new TailWindow(8);
    const chunk = Buffer.from('abc\n');
    window.push(chunk);
    chunk.fill('z');
    window.push(Buffer.from('de\nf'));
    assert.equal(window.text(), 'abc\nde\nf');
  });

  it('keeps the end of a chunk longer than its size', () => {
    const window = new TailWindow(6);
    window.push(Buffer.from('12\n'));
    window.push(Buffer.from('one\ntwo\nthree'));
    assert.equal(window.text(), 'three');
  });

  it('holds about its size however much streams through it', () => {
    const window = new TailWindow(1000);
    const chunk = Buffer.alloc(100, 'x');
    for (let i = 0; i < 100_000; i++) window.push(chunk);
    assert.ok(Buffer.byteLength(window.text()) <= 1000);
  });
});
