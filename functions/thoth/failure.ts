/**
 * Thoth's answers and transport failures as one-line reasons. Thoth's error bodies echo the
 * request parameters, registry passwords included: reasons use the status and the short `error`
 * text only, scrubbed of every credential value.
 */
import { BuildWatcherError } from '../errors.js';
import { isRecord } from '../kube/object.js';
import { redact } from '../observability/redact.js';
import { encodingsOf } from '../observability/secret-forms.js';

const MAX_DETAIL_CHARS = 200;
/** Below this length a secret cannot be replaced without garbling the text: withhold it. */
const MIN_SCRUBBABLE_SECRET = 6;

const STATUS_PHRASES: Readonly<Record<number, string>> = {
  400: 'rejected',
  401: 'registry authentication required',
  403: 'credentials refused',
  404: 'not found',
  405: 'method not allowed',
  413: 'request too large',
  415: 'unsupported media type',
};

function oneLine(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length <= MAX_DETAIL_CHARS ? flat : `${flat.slice(0, MAX_DETAIL_CHARS - 1)}…`;
}

function field(body: unknown, name: string): unknown {
  return isRecord(body) ? body[name] : undefined;
}

/** The short text a 4xx body carries: Thoth's `error`, or connexion's problem `detail`. */
function serverDetail(body: unknown): string | undefined {
  for (const name of ['error', 'detail'] as const) {
    const value = field(body, name);
    if (typeof value === 'string' && value.trim() !== '') return value;
  }
  return undefined;
}

/** `403 credentials refused (There was an error accessing the image …)`. */
export function refusalReason(status: number, body: unknown, secrets: readonly string[]): string {
  const phrase = STATUS_PHRASES[status] ?? 'client error';
  const detail = serverDetail(body);
  if (detail === undefined) return `${status} ${phrase}`;
  const short = secrets.some((secret) => secret !== '' && secret.length < MIN_SCRUBBABLE_SECRET && encodingsOf(secret).some((form) => detail.includes(form)));
  return short ? `${status} ${phrase} (details withheld)` : `${status} ${phrase} (${oneLine(redact(detail, secrets))})`;
}

/** Which image an inspect error is about: Thoth echoes the image it failed on. */
export function refusedImage(body: unknown): string | undefined {
  const image = field(field(body, 'parameters'), 'image');
  return typeof image === 'string' ? image : undefined;
}

/** The error code of a transport failure, e.g. `ECONNREFUSED`; never its message (URLs). */
export function transportCode(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth += 1) {
    const code = field(current, 'code');
    if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) && code !== 'ERR_NETWORK' && code !== 'ERR_BAD_RESPONSE') return code;
    current = field(current, 'cause');
  }
  const code = field(error, 'code');
  return typeof code === 'string' && /^[A-Z0-9_]+$/.test(code) ? code : 'network error';
}

/**
 * A submission Thoth may have accepted (resend.ts): never sent again by the client. Transient (the
 * delivery is answered 503 and comes back); its own class to tell it from a provable failure.
 */
export class SubmissionOutcomeUnknown extends BuildWatcherError {
  readonly endpoint: 'build-analysis' | 'analyze';

  /** `problem` names what happened, e.g. `timed out after 3 s`: never a URL, header or body. */
  constructor(endpoint: 'build-analysis' | 'analyze', problem: string) {
    super('transient', `Thoth ${endpoint} outcome unknown: ${problem}; not re-sent`);
    this.name = 'SubmissionOutcomeUnknown';
    this.endpoint = endpoint;
  }
}
