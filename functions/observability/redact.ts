/**
 * The one place secrets are scrubbed. Everything the function logs, every error message it
 * answers with and every Event it records passes through `redact`.
 */

/** Known secret values (passwords, the service-account token as last read). */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  // Very short values would redact ordinary words; no real credential is that short.
  if (value !== undefined && value.length >= 4) secrets.add(value);
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
  for (const secret of secrets) {
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
