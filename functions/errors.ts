/**
 * Every failure carries a kind, and the kind (never the message) decides the HTTP answer and
 * whether anything is retried:
 * - `invalid`: the input is wrong; answer 4xx, never retry;
 * - `refused`: a peer permanently said no (e.g. Thoth 403); answer 2xx so delivery stops;
 * - `transient`: try again later; answer a numeric 503 so Knative redelivers.
 */
export type FailureKind = 'invalid' | 'refused' | 'transient';

export class BuildWatcherError extends Error {
  readonly kind: FailureKind;
  /** HTTP status for `invalid` input (400, 413, 415, 422). */
  readonly status: number;
  /** What was refused, when a peer said so, e.g. `base-image`: callers may go on without it. */
  readonly about: string | undefined;

  constructor(kind: FailureKind, message: string, options: { status?: number; cause?: unknown; about?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BuildWatcherError';
    this.kind = kind;
    this.status = options.status ?? (kind === 'invalid' ? 400 : kind === 'transient' ? 503 : 200);
    this.about = options.about;
  }
}

export const invalid = (message: string, status = 400): BuildWatcherError =>
  new BuildWatcherError('invalid', message, { status });
export const refused = (message: string, cause?: unknown): BuildWatcherError =>
  new BuildWatcherError('refused', message, { cause });
export const transient = (message: string, cause?: unknown): BuildWatcherError =>
  new BuildWatcherError('transient', message, { cause });
