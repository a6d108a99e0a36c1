/**
 * A bound on what one request body can cost before anything parses it. Memory for parsed JSON
 * grows with the number of values and the nesting, not with the bytes: within 4 MiB, a deeply
 * nested array cost 225 MiB of RSS and an array of empty objects 176 MiB (test/bench/hostile.ts),
 * while 4 MiB of strings cost 31 MiB. One pass over the text, with no allocation, refuses the
 * shapes no Kubernetes object has, so parsing cost stays proportional to what real objects need.
 */
import { invalid, type BuildWatcherError } from '../errors.js';

/**
 * Real objects nest about 10 levels deep (managedFields mirror the object two levels down); Tekton runs with embedded
 * specs about 20. 100 leaves room without letting recursion in any later reader (ours, the SDK's, the logger's) see a deep structure.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * Structural tokens: `{`, `[`, `,` and `:` outside strings, about one per key or value. Compact Kubernetes JSON has one
 * every 12–25 bytes, so a structure-heavy object as large as etcd stores (1.5 MiB) has about 130,000; this allows twice as many.
 */

export const MAX_JSON_TOKENS = 262_144;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

/** Why `text` would cost more to parse than any real object does, or undefined. */
export function jsonShapeRefusal(text: string): BuildWatcherError | undefined {
  let depth = 0;
  let tokens = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      tokens++;
      if (++depth > MAX_JSON_DEPTH) return invalid(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    else if (c === COMMA || c === COLON) tokens++;
    if (tokens > MAX_JSON_TOKENS) return invalid(`JSON with more than ${MAX_JSON_TOKENS} keys and values`);
  }
  return undefined;
}

/** JSON.parse, after refusing a shape no real object has; an `invalid` error otherwise. */
export function parseBoundedJson(text: string, what: string): unknown {
  const refusal = jsonShapeRefusal(text);
  if (refusal !== undefined) throw invalid(`${what}: ${refusal.message}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid(`${what}: malformed JSON`);
  }
}
