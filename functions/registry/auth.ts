/**
 * Registry authentication: Basic, and Bearer tokens per the Docker token auth spec (https://distribution.github.io/distribution/spec/auth/token/).
 * Credentials go only to the registry's own origin and to a realm it names that passes `realmProblem`.
 */
import type { RegistryCredentials } from '../domain/built-image.js';
import { isLoopbackHost } from './http-transport.js';

/** Called at each authentication, so rotating secrets (service-account tokens) are re-read. */
export type CredentialsProvider = () => Promise<RegistryCredentials | undefined> | RegistryCredentials | undefined;

export interface Challenge { readonly scheme: 'basic' | 'bearer'; readonly params: Readonly<Record<string, string>> }

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;

/**
 * Parses a WWW-Authenticate header (RFC 7235; several challenges may share one header, as
 * node joins repeated headers with commas). Bearer wins over Basic; other schemes are ignored.
 */
export function parseChallenges(header: string): Challenge | undefined {
  const found: Challenge[] = [];
  let at = 0;
  const skip = (pattern: RegExp): void => {
    while (at < header.length && pattern.test(header.charAt(at))) at++;
  };
  const token = (): string | undefined => {
    TOKEN.lastIndex = at;
    const match = TOKEN.exec(header);
    if (match === null) return undefined;
    at = TOKEN.lastIndex;
    return match[0];
  };
  const quoted = (): string => {
    let value = '';
    for (at++; at < header.length && header.charAt(at) !== '"'; at++) {
      if (header.charAt(at) === '\\') at++;
      value += header.charAt(at);
    }
    at++;
    return value;
  };
  // Leniently, an unquoted value runs to the next comma or space (some servers send URLs bare).
  const bare = (): string => {
    const from = at;
    while (at < header.length && !/[\s,]/.test(header.charAt(at))) at++;
    return header.slice(from, at);
  };
  while (at < header.length) {
    skip(/[\s,]/);
    const scheme = token();
    if (scheme === undefined) break;
    const params: Record<string, string> = {};
    for (;;) {
      skip(/[\s,]/);
      const start = at;
      const name = token();
      skip(/\s/);
      if (name === undefined || header.charAt(at) !== '=') {
        at = start;
        break;
      }
      at++;
      skip(/\s/);
      params[name.toLowerCase()] = header.charAt(at) === '"' ? quoted() : bare();
    }
    const lower = scheme.toLowerCase();
    if (lower === 'basic' || lower === 'bearer') found.push({ scheme: lower, params });
  }
  return found.find((c) => c.scheme === 'bearer') ?? found[0];
}

/**
 * Why a token realm must not receive credentials, or undefined when it may (the README's rule):
 * - https on any host: real registries name another (registry-1.docker.io names auth.docker.io), and the registry is
 *   one the operator chose;
 * - plain http only on the registry's own origin when it was allowed plain HTTP, or on loopback when the registry is
 *   on loopback too, where nothing leaves the machine.
 */
export function realmProblem(realm: string, registryOrigin: URL): string | undefined {
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    return 'token realm is not a URL';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') return 'token realm is neither https nor http';
  if (isLoopbackHost(url.hostname) && isLoopbackHost(registryOrigin.hostname)) return undefined;
  if (registryOrigin.protocol === 'http:' && url.host === registryOrigin.host) return undefined;
  return 'token realm is plain http on another host';
}

export function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

export interface IssuedToken {
  readonly value: string;
  /** Epoch milliseconds after which the token is renewed before use. */
  readonly refreshAt: number;
}

/**
 * Renew tokens this long before they expire, so no request starts with a dying token; but at
 * most half their lifetime, or a token living under twice this would be renewed for every request.
 */
const REFRESH_MARGIN_MS = 10_000;

/** Reads a token response body: `token` or `access_token`, `expires_in` defaulting to 60 s. */
export function parseTokenResponse(body: Buffer, now = Date.now()): IssuedToken | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const fields = parsed as { token?: unknown; access_token?: unknown; expires_in?: unknown };
  const value = typeof fields.token === 'string' && fields.token !== '' ? fields.token
    : typeof fields.access_token === 'string' && fields.access_token !== '' ? fields.access_token : undefined;
  if (value === undefined) return undefined;
  const seconds = typeof fields.expires_in === 'number' && Number.isFinite(fields.expires_in) && fields.expires_in > 0 ? fields.expires_in : 60;

  const lifetimeMs = seconds * 1000;
  return { value, refreshAt: now + lifetimeMs - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 2) };
}

/** `repository:<name>:<actions>` scope strings. */
export function repositoryScope(repository: string, actions: readonly string[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}
