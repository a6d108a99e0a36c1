/**
 * The one failure policy. Every error the function raises carries a kind, every client (Kubernetes, Thoth,
 * registry) classifies HTTP statuses and transport failures with the two functions below, and `FRONT_POLICY`
 * says what each front does with each kind:
 * - `invalid`: the input is wrong; never retried;
 * - `refused`: a peer permanently said no (a 403, a missing image, a certificate it cannot verify); retried
 *   only once the object changes, or by a later sweep;
 * - `transient`: trying again later may work (5xx, 429, timeouts, dropped connections).
 */
export type FailureKind = 'invalid' | 'refused' | 'transient';

export class BuildWatcherError extends Error {
  readonly kind: FailureKind;
  /** HTTP status for `invalid` input (400, 403, 413, 415, 422). */
  readonly status: number;
  /** What was refused, when a peer said so, e.g. `base-image`: callers may go on without it. */
  readonly about: string | undefined;

  constructor(kind: FailureKind, message: string, options: { status?: number; cause?: unknown; about?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BuildWatcherError';
    this.kind = kind;
    this.status = options.status ?? FRONT_POLICY[kind].httpStatus;
    this.about = options.about;
  }
}

export const invalid = (message: string, status = 400): BuildWatcherError => new BuildWatcherError('invalid', message, { status });
export const refused = (message: string, cause?: unknown): BuildWatcherError => new BuildWatcherError('refused', message, { cause });
export const transient = (message: string, cause?: unknown): BuildWatcherError => new BuildWatcherError('transient', message, { cause });

/** Any error as a BuildWatcherError: what nobody classified is assumed to pass. */
export function asFailure(error: unknown): BuildWatcherError {
  if (error instanceof BuildWatcherError) return error;
  return transient(error instanceof Error ? `unexpected failure: ${error.message}` : 'unexpected failure', error);
}

/**
 * What each front does with a failure of each kind:
 * - the function answers `httpStatus` (`invalid` keeps its own 4xx); a refusal is a 200 with an
 *   `analysis.refused` reply, so the Broker stops redelivering, and a numeric 503 makes it retry;
 * - the command line retries transient failures with backoff, and leaves the rest until the object changes;
 * - the sweep marks refused and invalid objects `sweep-refused-at` and leaves them for a day.
 */
export const FRONT_POLICY: Readonly<Record<FailureKind, { readonly httpStatus: number; readonly retry: boolean }>> = {
  invalid: { httpStatus: 400, retry: false },
  refused: { httpStatus: 200, retry: false },
  transient: { httpStatus: 503, retry: true },
};

/**
 * The kind an HTTP status deserves, for every client. 408, 409 (a conflict resolves itself on a fresh read),
 * 429 and 5xx pass; 401, 403, 404 and every other 4xx are a peer's final word.
 */
export function kindOfHttpStatus(status: number): FailureKind {
  return status === 408 || status === 409 || status === 429 || status >= 500 ? 'transient' : 'refused';
}

/** Node's certificate verification failures: retrying within one delivery does not fix them. */
const TLS_VERIFICATION_CODES: ReadonlySet<string> = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);


export function kindOfTransportError(code: string | undefined): FailureKind {
  return code !== undefined && TLS_VERIFICATION_CODES.has(code) ? 'refused' : 'transient';
}
