/**
 * Failures of the copier. The kind follows functions/errors.ts: `transient` when trying again later may work (5xx, 429, timeouts,
 * dropped connections), `refused` when a registry said no for good (credentials, permissions, missing images, corrupt content).
 * Messages name the registry, repository and HTTP status only: never bodies, headers or credentials.
 */
import type { IncomingMessage } from 'node:http';
import { BuildWatcherError, kindOfHttpStatus, kindOfTransportError, type FailureKind } from '../errors.js';
import { parseRetryAfter } from '../retry.js';
import { DeadlineError, readLimited } from './http-transport.js';

export interface RegistryLocation { readonly registry: string; readonly repository?: string }

export class RegistryError extends BuildWatcherError {
  readonly registry: string;
  readonly repository: string | undefined;
  readonly httpStatus: number | undefined;
  /** From Retry-After, when the registry asked for a pause. */
  readonly retryAfterMs: number | undefined;

  constructor(kind: FailureKind, where: RegistryLocation, what: string,
    options: { httpStatus?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    const name = where.repository === undefined ? where.registry : `${where.registry}/${where.repository}`;
    super(kind, `${name}: ${what}`, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'RegistryError';
    this.registry = where.registry;
    this.repository = where.repository;
    this.httpStatus = options.httpStatus;
    this.retryAfterMs = options.retryAfterMs;
  }
}

const ERROR_BODY_LIMIT = 16 * 1024;

/** The first spec error code of a Distribution error body (e.g. DIGEST_INVALID), and nothing else of it. */
async function readErrorCode(res: IncomingMessage): Promise<string | undefined> {
  try {
    const body = await readLimited(res, ERROR_BODY_LIMIT);
    const parsed = JSON.parse(body?.toString('utf8') ?? '') as { errors?: { code?: unknown }[] };
    const code = parsed.errors?.[0]?.code;
    return typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/** Consumes an unexpected response and turns it into an error. */
export async function unexpectedStatus(res: IncomingMessage, where: RegistryLocation, what: string): Promise<RegistryError> {
  const status = res.statusCode ?? 0;
  const code = await readErrorCode(res);
  const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
  const reason = status === 401 ? ' (credentials refused)' : status === 403 ? ' (access denied)' : '';
  return new RegistryError(kindOfHttpStatus(status), where, `${what} answered ${status}${code === undefined ? '' : ` ${code}`}${reason}`,
    { httpStatus: status, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
}

/** Node's network errors (ECONNRESET, socket hang up, TLS failures) as a RegistryError. */
export function networkError(error: unknown, where: RegistryLocation, what: string): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof DeadlineError) return new RegistryError('transient', where, `${what}: ${error.message} (a registry this slow is treated as down)`, { cause: error });
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new RegistryError(kindOfTransportError(code), where, `${what} failed${code === undefined ? '' : ` (${code})`}`, { cause: error });
}
