/**
 * What may be sent to Thoth again after one attempt, decided here and nowhere else.
 *
 * A GET changes nothing: it is retried whatever went wrong. A submission (POST /build-analysis, /analyze) is not: Thoth stores
 * the log and schedules analyses as it accepts one, and once the request may have reached it nothing tells an accepted submission
 * from a lost one (a fault run saw a 202 after 5 s, past a 3 s timeout, and four blind re-sends). It is re-sent only when Thoth
 * provably did not take it:
 * - its connection never opened (watched on the socket, not read from an error code: Linux reports EHOSTUNREACH and ENETUNREACH
 *   on connections that were open and may have carried it);
 * - an answer that says "not taken" and may change: 408, 409, 429, 500, 503.
 * Any other transient end (a timeout or reset after connecting, a 502/504 from a gateway that may have forwarded it, another 5xx)
 * has an unknown outcome: the call ends, transient, and the next delivery sends it again, answered from Thoth's per-digest cache
 * (README, "The duplicate window").
 */
import { kindOfHttpStatus, kindOfTransportError } from '../errors.js';

/** One attempt, as far as sending it again is concerned. */
export type AttemptEnd =
  | { readonly kind: 'response'; readonly status: number }
  /** No answer: `connected` says whether the attempt's connection was ever open. */
  | { readonly kind: 'timeout'; readonly connected: boolean }
  | { readonly kind: 'network'; readonly code: string; readonly connected: boolean };

/**
 * - `answer`: the caller gets the answer (2xx, 3xx, a 4xx that is Thoth's final word);
 * - `retry`: not taken, send it again after a backoff, while attempts remain;
 * - `unknown`: a submission Thoth may have taken: never sent again;
 * - `untrusted`: the certificate did not verify, which no retry fixes.
 */
export type ResendVerdict = 'answer' | 'retry' | 'unknown' | 'untrusted';

const NOT_TAKEN_STATUSES: ReadonlySet<number> = new Set([408, 409, 429, 500, 503]);

export function resendVerdict(end: AttemptEnd, method: string): ResendVerdict {
  const idempotent = method.toUpperCase() === 'GET';
  if (end.kind === 'response') {
    if (kindOfHttpStatus(end.status) !== 'transient') return 'answer';
    return idempotent || NOT_TAKEN_STATUSES.has(end.status) ? 'retry' : 'unknown';
  }
  if (end.kind === 'network' && kindOfTransportError(end.code) === 'refused') return 'untrusted';
  return idempotent || !end.connected ? 'retry' : 'unknown';
}
