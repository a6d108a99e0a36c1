/**
 * What may be sent to Thoth again after one attempt, decided here and nowhere else.
 *
 * A GET (discovery, a status read) changes nothing, so it is retried under the one retry
 * policy whatever went wrong. A submission (POST /build-analysis, POST /analyze) is not: Thoth
 * stores the build log and schedules analyses as it accepts one, and once the request may have
 * reached it, nothing the client sees tells an accepted submission from a lost one (a fault run
 * saw a 202 after 5 s, past a 3 s timeout, and four blind re-sends). So a submission is sent
 * again only when Thoth provably did not take it:
 * - its connection never opened (refused, unknown host, unreachable network, a timeout while
 *   connecting): nothing can have been sent. This is watched on the socket rather than read
 *   from an error code, because Linux reports some codes (EHOSTUNREACH, ENETUNREACH) on a
 *   connection that was open and may have carried the request;
 * - an answer that says "not taken" and may change: 408, 409, 429, 500 and 503, from the app or
 *   the router in front.
 * Everything else that is transient has an unknown outcome: a timeout or a reset (ECONNRESET,
 * socket hang up, EPIPE) after the connection opened, a 502 or 504 from a gateway that may have
 * forwarded it, any other 5xx nobody in front of Thoth is known to send. It is never sent again
 * by the client: the call ends at once, transient, and the next delivery of the object sends
 * it again, which Thoth answers from its per-digest cache (README, "The duplicate window").
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

/** Answers that say the submission was not taken, and that trying again may change. */
export const NOT_TAKEN_STATUSES: ReadonlySet<number> = new Set([408, 409, 429, 500, 503]);

export function resendVerdict(end: AttemptEnd, method: string): ResendVerdict {
  const idempotent = method.toUpperCase() === 'GET';
  if (end.kind === 'response') {
    if (kindOfHttpStatus(end.status) !== 'transient') return 'answer';
    return idempotent || NOT_TAKEN_STATUSES.has(end.status) ? 'retry' : 'unknown';
  }
  if (end.kind === 'network' && kindOfTransportError(end.code) === 'refused') return 'untrusted';
  return idempotent || !end.connected ? 'retry' : 'unknown';
}
