/**
 * JSON bodies shaped to cost the most memory per byte, each exactly `size` bytes: the shapes
 * the function refuses before parsing (too deep, too many tokens) and the worst ones it still
 * parses (as many tokens as allowed, the rest one long string). Shared by test/bench/hostile.ts,
 * which measures them, and test/function/hostile_test.ts, which sends them.
 */
import { MAX_JSON_DEPTH, MAX_JSON_TOKENS } from '../../functions/events/json-shape.js';

/** `{"a":[items…],"pad":"xxx…"}`, padded to `size` bytes, with `tokens` structural tokens in all. */
function padded(items: (i: number) => string, tokensPerItem: number, tokens: number, size: number): string {
  // `{"a":[` and `,"pad":"` use 5 tokens; items are joined with commas.
  const count = Math.floor((tokens - 5 + 1) / (tokensPerItem + 1));
  const head = `{"a":[${Array.from({ length: count }, (_, i) => items(i)).join(',')}],"pad":"`;
  const tail = '"}';
  const room = size - Buffer.byteLength(head) - tail.length;
  if (room < 0) throw new Error(`${count} items do not fit in ${size} bytes`);
  return `${head}${'x'.repeat(room)}${tail}`;
}

export interface HostileShape {
  readonly name: string;
  /** Whether the function refuses it before parsing (400), or parses and then rejects it. */
  readonly refusedUnparsed: boolean;
  /** Exactly `size` bytes; the parsed shapes use at most `tokens` structural tokens. */
  body(size: number, tokens?: number): string;
}

export const HOSTILE_SHAPES: readonly HostileShape[] = [
  { name: 'nested arrays, as deep as the body allows', refusedUnparsed: true, body: (size) => '['.repeat(size / 2) + ']'.repeat(size / 2) },
  {
    name: 'nested objects, as deep as the body allows',
    refusedUnparsed: true,
    body: (size) => {
      const levels = Math.floor((size - 1) / 6);
      return '{"a":'.repeat(levels) + '0' + '}'.repeat(levels) + ' '.repeat(size - 1 - levels * 6);
    },
  },
  {
    name: 'empty objects, as many as the body allows',
    refusedUnparsed: true,
    body: (size) => {
      const count = Math.floor((size - 2) / 3);
      return `[${Array(count).fill('{}').join(',')}]`.padEnd(size, ' ');
    },
  },
  {
    name: `nesting at the limit (${MAX_JSON_DEPTH} levels), repeated`,
    refusedUnparsed: false,
    body: (size, tokens = MAX_JSON_TOKENS) => padded(() => '['.repeat(MAX_JSON_DEPTH - 2) + ']'.repeat(MAX_JSON_DEPTH - 2), MAX_JSON_DEPTH - 2, tokens, size),
  },
  { name: `empty objects at the token limit (${MAX_JSON_TOKENS})`, refusedUnparsed: false, body: (size, tokens = MAX_JSON_TOKENS) => padded(() => '{}', 1, tokens, size) },
  {
    name: 'distinct keys at the token limit',
    refusedUnparsed: false,
    body: (size, tokens = MAX_JSON_TOKENS) => padded((i) => `{"k${i.toString(36)}":${i}}`, 2, tokens, size),
  },
  { name: 'distinct short strings at the token limit', refusedUnparsed: false, body: (size, tokens = MAX_JSON_TOKENS) => padded((i) => `"${i.toString(36)}"`, 0, tokens, size) },
  { name: 'fractional numbers at the token limit', refusedUnparsed: false, body: (size, tokens = MAX_JSON_TOKENS) => padded((i) => String(i + 0.5), 0, tokens, size) },
  {
    name: 'one string of two-byte characters',
    refusedUnparsed: false,
    body: (size) => {
      const room = size - '{"a":""}'.length;
      return `{"a":"${'\u4e00'.repeat(Math.floor(room / 3))}${'x'.repeat(room % 3)}"}`;
    },
  },
];
