/**
 * The one place secrets are scrubbed. Everything the function logs, every error message it
 * answers with and every Event it records passes through `redact`.
 */

/** Known secret values: configured passwords, and the service-account tokens read lately. */
const secrets = new Set<string>();
const tokens = new Set<string>();
/** Rotated tokens would accumulate over a pod's life; the oldest are long expired. */
const MAX_TOKENS = 16;

// Very short values would redact ordinary words; no real credential is that short.
const worthHiding = (value: string | undefined): value is string => value !== undefined && value.length >= 4;

/** A configured secret, hidden for the life of the process. */
export function registerSecret(value: string | undefined): void {
  if (worthHiding(value)) secrets.add(value);
}

/** A token read from a file that rotates: the last few are hidden. */
export function registerRotatingSecret(value: string | undefined): void {
  if (!worthHiding(value) || tokens.has(value)) return;
  if (tokens.size >= MAX_TOKENS) tokens.delete(tokens.values().next().value ?? '');
  tokens.add(value);
}

const PATTERNS: readonly [RegExp, string][] = [
  // Authorization / Proxy-Authorization headers, in any serialisation.
  [/((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:bearer|basic)?\s*[^\s"',}]+/gi, '$1[REDACTED]'],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [REDACTED]'],
  // Thoth passes credentials in query strings: hide the whole query of any URL.
  [/(https?:\/\/[^\s?"']+)\?[^\s"']*/gi, '$1?[REDACTED]'],
  [/((?:registry_)?password|(?:registry_)?user|token|access_token)=[^&\s"']*/gi, '$1=[REDACTED]'],
  // JWTs (service-account tokens) wherever they appear.
  [/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*/g, '[REDACTED]'],
];

export function redact(text: string): string {
  let result = text;
  for (const secret of [...secrets, ...tokens]) {
    if (result.includes(secret)) result = result.split(secret).join('[REDACTED]');
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
    out[key] = /password|token|authorization|secret/i.test(key) ? '[REDACTED]' : redactValue(item, depth + 1);
  }
  return out;
}
