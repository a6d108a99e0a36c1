/**
 * The one place secrets are scrubbed. Everything the function logs, every error message it answers with, every
 * Event it records and every reason quoting a peer's answer passes through `redact`, which hides each known secret
 * in every encoding the code produces (raw, URL-encoded, form-urlencoded, JSON-escaped, base64, Basic
 * `user:password`) and anything shaped like a credential.
 */


/** Known secret values: configured passwords, and the service-account tokens read lately. */
const secrets = new Set<string>();
const tokens = new Set<string>();
/** Rotated tokens would accumulate over a pod's life; the oldest are long expired. */
const MAX_TOKENS = 16;
const REDACTED = '[REDACTED]';

// Very short values would redact ordinary words; no real credential is that short.
const worthHiding = (value: string | undefined): value is string => value !== undefined && value.length >= 4;

/** Every form in which this code sends or echoes a secret. */
export function encodingsOf(secret: string): string[] {
  const base64 = Buffer.from(secret).toString('base64');
  return [...new Set([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2), JSON.stringify(secret).slice(1, -1), base64, base64.replace(/=+$/, '')])];
}

/** A configured secret, hidden for the life of the process; with a user, its Basic form too. */
export function registerSecret(value: string | undefined, username?: string): void {
  if (!worthHiding(value)) return;
  secrets.add(value);
  if (username !== undefined) secrets.add(`${username}:${value}`);
}

/** A token read from a file that rotates: the last few are hidden, with their Basic form. */
export function registerRotatingSecret(value: string | undefined, username?: string): void {
  if (!worthHiding(value) || tokens.has(value)) return;
  while (tokens.size >= MAX_TOKENS * 2) tokens.delete(tokens.values().next().value ?? '');
  tokens.add(value);
  if (username !== undefined) tokens.add(`${username}:${value}`);
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

/** `text` with every registered secret, each of `extra`, and credential-shaped text hidden. */
export function redact(text: string, extra: readonly string[] = []): string {
  let result = text;
  for (const secret of [...secrets, ...tokens, ...extra.filter(worthHiding)]) {
    for (const form of encodingsOf(secret)) if (result.includes(form)) result = result.split(form).join(REDACTED);
  }
  for (const [pattern, replacement] of PATTERNS) result = result.replace(pattern, replacement);
  return result;
}

/** Redacts every string in a log record, however deep. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: redact(value.message) };
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = /password|token|authorization|secret/i.test(key) ? REDACTED : redactValue(item, depth + 1);
  }
  return out;
}
