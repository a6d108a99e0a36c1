/**
 * The one place secrets are scrubbed. Every text that reaches an output passes through `redact` (or `redactLine`, `redactValue`)
 * at its writer: the logger, Events (kube/events.ts), the annotations a lease writes (ledger/lease.ts), the replies (reply.ts)
 * and the command line's stderr. Outside text (Thoth's and registries' error text, analysis ids) gets no other treatment.
 *
 * Two passes. First each known secret is replaced where it stands, in every form secret-forms.ts lists. Then what is left is
 * looked at again through decoded views (whitespace and line breaks removed, JSON escapes and percent-encoding undone twice,
 * hex in either case): if a secret is still in it, in any view, or the text starts or ends with the start or the end of one (a
 * secret cut in two), MIN_FRAGMENT characters or more, the whole text is withheld. That covers mixed-case
 * escapes, a secret split by line breaks, and a secret cut in two. Bodies are read whole (bounded) before any of them is
 * quoted, so a chunk boundary never cuts a text; the cuts this code makes come after redaction (redactLine).
 */
import { encodingsOf } from './secret-forms.js';

const REDACTED = '[REDACTED]';
/** What a text becomes when a secret is still in it after replacement: no part of it can be shown safely. */
export const WITHHELD = '[withheld: it held a credential]';
/**
 * Below this length a configured value is not treated as a secret: three characters match ordinary words, and no registry
 * password or token is that short.
 */
const MIN_SECRET = 4;
/**
 * The start or end of a secret this long, at the end or start of a text, withholds it. Shorter pieces end ordinary text too often
 * (a word, a digest); fewer than eight characters of a secret are all a text cut inside one can show.
 */
const MIN_FRAGMENT = 8;
/** Rotated tokens would accumulate over a pod's life; the oldest are long expired. */
const MAX_TOKENS = 32;
/** Deeper parts of a record are summarised, never copied. */
const MAX_DEPTH = 6;

interface Known {
  readonly forms: readonly string[];
  /** The value with whitespace removed, as the decoded views are. */
  readonly flat: string;
  readonly hex: string;
  /** Whether a cut piece of it counts: not for a Basic `user:password`, whose start is a user name. */
  readonly pieces: boolean;
}

const compact = (text: string): string => text.replace(/\s+|\\[nrt]/g, '');

function known(value: string, pieces: boolean): Known {
  return { forms: encodingsOf(value), flat: compact(value), hex: Buffer.from(value, 'utf8').toString('hex'), pieces };
}

/** Configured secrets (and their Basic `user:password`), and the service-account tokens read lately. */
const secrets = new Map<string, Known>();
const tokens = new Map<string, Known>();

const worthHiding = (value: string | undefined): value is string => value !== undefined && value.length >= MIN_SECRET;

/** Adds `value` and, with a user, its Basic form: that one only whole, since the user name alone is no secret. */
function add(into: Map<string, Known>, value: string, username: string | undefined): void {
  into.set(value, known(value, true));
  if (username !== undefined) into.set(`${username}:${value}`, known(`${username}:${value}`, false));
}

/** A configured secret, hidden for the life of the process; with a user, its Basic form too. */
export function registerSecret(value: string | undefined, username?: string): void {
  if (worthHiding(value) && !secrets.has(value)) add(secrets, value, username);
}

/** A token read from a file that rotates: the last few are hidden, with their Basic form. */
export function registerRotatingSecret(value: string | undefined, username?: string): void {
  if (!worthHiding(value) || tokens.has(value)) return;
  while (tokens.size >= MAX_TOKENS) tokens.delete(tokens.keys().next().value ?? '');
  add(tokens, value, username);
}

const PATTERNS: readonly [RegExp, string][] = [
  // Authorization / Proxy-Authorization headers, in any serialisation.
  [/((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:bearer|basic)?\s*[^\s"',}]+/gi, `$1${REDACTED}`],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi, `$1 ${REDACTED}`],
  // Thoth passes credentials in query strings: hide the whole query of any URL.
  [/(https?:\/\/[^\s?"']+)\?[^\s"']*/gi, `$1?${REDACTED}`],
  [/((?:registry_)?password|passwd|(?:registry_)?user|token|access_token|secret)(["']?\s*[:=]\s*["']?)[^"'&\s,;}]+/gi, `$1$2${REDACTED}`],
  // JWTs (service-account tokens) wherever they appear.
  [/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g, REDACTED],
];

/** Percent-escapes undone where they decode, left as they are where they do not. */
function percentDecoded(text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run.replace(/%([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    }
  });
}

const jsonUnescaped = (text: string): string =>
  text.replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))).replace(/\\([/"\\])/g, '$1');

/** `text` as a reader could decode it: the views the second pass searches. */
function decodedViews(text: string): string[] {
  const json = jsonUnescaped(text);
  const views = [text, json, percentDecoded(percentDecoded(json)), percentDecoded(percentDecoded(json.replaceAll('+', ' ')))].map(compact);
  return [...new Set([...views, ...views.map((view) => view.toLowerCase())])];
}

/** Whether `view` starts or ends with the start or the end of `flat`, at least MIN_FRAGMENT characters of it. */
function cutInside(view: string, flat: string): boolean {
  const ends = [view, view.replace(/^["'(\[{]+|["'.,;)\]}…]+$/g, '')];
  for (let length = MIN_FRAGMENT; length < flat.length; length += 1) {
    const start = flat.slice(0, length);
    const end = flat.slice(flat.length - length);
    if (ends.some((text) => text.endsWith(start) || text.startsWith(end) || text.startsWith(start) || text.endsWith(end))) return true;
  }
  return false;
}

function stillHolds(text: string, all: readonly Known[]): boolean {
  if (all.length === 0) return false;
  const views = decodedViews(text);
  return all.some(({ forms, flat, hex, pieces }) => views.some((view) =>
    view.includes(flat) || view.includes(hex) || forms.some((form) => view.includes(form)) || (pieces && cutInside(view, flat))));
}

function knownNow(extra: readonly string[]): Known[] {
  return [...secrets.values(), ...tokens.values(), ...extra.filter(worthHiding).map((value) => known(value, true))];
}

/** `text` with every registered secret, each of `extra`, and credential-shaped text hidden; withheld whole if that is not enough. */
export function redact(text: string, extra: readonly string[] = []): string {
  const all = knownNow(extra);
  let result = text;
  for (const { forms } of all) {
    for (const form of forms) if (result.includes(form)) result = result.split(form).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) result = result.replace(pattern, replacement);
  return stillHolds(result, all) ? WITHHELD : result;
}

/**
 * Outside text as one bounded line, redacted. Only a window of it is copied, so a long text costs no more than a short one: the
 * window reaches past `max` by twice the longest secret form, and that margin is dropped after redaction, taking with it any
 * secret the window's end cut in two.
 */
export function redactLine(text: string, max: number): string {
  const margin = 2 * Math.max(0, ...knownNow([]).map(({ forms }) => forms[0]?.length ?? 0)) + 2;
  const cut = text.length > max + margin;
  const line = redact((cut ? text.slice(0, max + margin) : text).replace(/[\u0000-\u001f\u007f\s]+/g, ' '));
  const kept = cut && line !== WITHHELD ? line.slice(0, Math.max(0, line.length - margin)) : line;
  return !cut && kept.length <= max ? kept : `${kept.slice(0, max - 1)}…`;
}

/**
 * Every string in `value` through `text`; credential-named keys hidden. Bounded in depth, and with `maxItems` (logs) in breadth
 * too: replies keep every item.
 */
export function redactValue(value: unknown, text: (value: string) => string = redact, maxItems = Number.POSITIVE_INFINITY, depth = 0): unknown {
  if (typeof value === 'string') return text(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (value instanceof Error) return { name: value.name, message: text(value.message) };
  if (Array.isArray(value)) return value.slice(0, maxItems).map((item) => redactValue(item, text, maxItems, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value).slice(0, maxItems)) {
    out[key] = /password|token|authorization|secret/i.test(key) ? REDACTED : redactValue(item, text, maxItems, depth + 1);
  }
  return out;
}
