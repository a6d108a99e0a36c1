/**
 * What Thoth does before accepting an image: `skopeo inspect` with the credentials given.
 * Written here from the registry HTTP API so the stub does not share code (or bugs) with
 * functions/registry. Outcomes carry Thoth's status codes and messages.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';

export const MESSAGES = {
  halfCredentials: 'Both parameters registry_user and registry_password have to be supplied for registry authentication',
  manifestUnknown: 'Unknown manifest for the given image',
  authenticationRequired: 'There is required authentication in order to pull image and image details',
  unknownAuthority: 'There was an error with x509 certification check: certificate signed by unknown authority',
  invalidCredentials: 'There was an error accessing the image as the username/password provided was invalid',
  other: 'There was an error when extracting image information, please contact administrator for more details',
} as const;

export interface ParsedReference {
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

export interface InspectOptions {
  readonly credentials?: { readonly username: string; readonly password: string };
  readonly verifyTls: boolean;
  /** CAs the Thoth host trusts, on top of nothing: tests pass their registry's CA. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Like registries.conf `insecure = true`: plain HTTP allowed even with verify_tls. */
  readonly plainHttpRegistries?: readonly string[];
  readonly timeoutMs?: number;
}

export type Inspection =
  | { readonly ok: true; readonly digest: string; readonly registry: string; readonly repository: string }
  | { readonly ok: false; readonly status: 400 | 401 | 403; readonly error: string };

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;

/** A docker reference: `[registry/]path[:tag][@digest]`, with docker.io defaults. */
export function parseReference(reference: string): ParsedReference | undefined {
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  const parts = rest.split('/');
  const first = parts[0] ?? '';
  let registry = 'docker.io';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
  }
  if (!HOST.test(registry) || parts.length === 0 || !parts.every((part) => COMPONENT.test(part))) return undefined;
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) return undefined;
  return {
    registry,
    repository,
    ...(tag !== undefined ? { tag } : digest === undefined ? { tag: 'latest' } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

const MANIFEST_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;
const ACCEPT = Object.values(MANIFEST_TYPES).join(', ');
const INDEX_TYPES: ReadonlySet<string> = new Set([MANIFEST_TYPES.ociIndex, MANIFEST_TYPES.dockerList]);
const UNKNOWN_AUTHORITY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

class Refusal extends Error {
  constructor(
    readonly status: 400 | 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

class TransportFailure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

interface Fetched {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

function errorCode(error: unknown): string {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'EUNKNOWN';
}

function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

function jsonOf(body: Buffer): Readonly<Record<string, unknown>> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

function parseChallenge(header: string | undefined): Challenge | undefined {
  const match = header === undefined ? null : /^\s*(\w+)\s*(.*)$/.exec(header);
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  for (const param of (match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) params[(param[1] ?? '').toLowerCase()] = param[2] ?? '';
  return { scheme: (match[1] ?? '').toLowerCase(), params };
}

class RegistrySession {
  #origin: string;
  #authorization: string | undefined;
  #schemeSettled: boolean;

  constructor(
    readonly reference: ParsedReference,
    readonly options: InspectOptions,
  ) {
    const plain = options.plainHttpRegistries?.includes(reference.registry) === true;
    const host = reference.registry === 'docker.io' ? 'registry-1.docker.io' : reference.registry;
    this.#origin = `${plain ? 'http' : 'https'}://${host}`;
    this.#schemeSettled = plain;
  }

  #fetch(url: URL, headers: Readonly<Record<string, string>>): Promise<Fetched> {
    const module = url.protocol === 'https:' ? https : http;
    const insecure = this.options.plainHttpRegistries?.includes(this.reference.registry) === true;
    return new Promise((resolve, reject) => {
      const request = module.request(url, {
        method: 'GET',
        headers,
        agent: false,
        timeout: this.options.timeoutMs ?? 10_000,
        rejectUnauthorized: this.options.verifyTls && !insecure,
        ...(this.options.ca !== undefined ? { ca: this.options.ca as string | Buffer | Array<string | Buffer> } : {}),
      });
      request.on('timeout', () => request.destroy(new TransportFailure('ETIMEDOUT')));
      request.on('error', (error) => reject(error instanceof TransportFailure ? error : new TransportFailure(errorCode(error))));
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_DOCUMENT_BYTES) request.destroy(new TransportFailure('ETOOBIG'));
          else chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', (error) => reject(new TransportFailure(errorCode(error))));
      });
      request.end();
    });
  }

  /** GET a registry path, settling https-vs-http on first contact like containers/image. */
  async #get(path: string, headers: Readonly<Record<string, string>>): Promise<Fetched> {
    const withAuth = this.#authorization !== undefined ? { ...headers, Authorization: this.#authorization } : headers;
    try {
      const fetched = await this.#fetch(new URL(path, this.#origin), withAuth);
      this.#schemeSettled = true;
      return fetched;
    } catch (error) {
      const code = error instanceof TransportFailure ? error.code : errorCode(error);
      if (UNKNOWN_AUTHORITY_CODES.has(code)) throw new Refusal(401, MESSAGES.unknownAuthority);
      if (this.#schemeSettled || this.options.verifyTls) throw error;
      this.#origin = this.#origin.replace(/^https:/, 'http:');
      this.#schemeSettled = true;
      return this.#get(path, headers);
    }
  }

  /** GET with the registry's auth dance: Basic, or a Bearer token from the realm. */
  async get(path: string, headers: Readonly<Record<string, string>>): Promise<Fetched> {
    const first = await this.#get(path, headers);
    if (first.status !== 401) return first;
    const header = first.headers['www-authenticate'];
    const challenge = parseChallenge(Array.isArray(header) ? header[0] : header);
    const credentials = this.options.credentials;
    if (challenge === undefined) throw new Refusal(401, MESSAGES.authenticationRequired);
    if (challenge.scheme === 'basic') {
      if (credentials === undefined) throw new Refusal(401, MESSAGES.authenticationRequired);
      this.#authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
      const second = await this.#get(path, headers);
      if (second.status === 401) throw new Refusal(403, MESSAGES.invalidCredentials);
      return second;
    }
    if (challenge.scheme === 'bearer') {
      this.#authorization = `Bearer ${await this.#token(challenge)}`;
      const second = await this.#get(path, headers);
      if (second.status === 401) throw new Refusal(401, MESSAGES.authenticationRequired);
      return second;
    }
    throw new Refusal(401, MESSAGES.authenticationRequired);
  }

  async #token(challenge: Challenge): Promise<string> {
    const realm = challenge.params['realm'];
    if (realm === undefined) throw new Refusal(400, MESSAGES.other);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new Refusal(400, MESSAGES.other);
    }
    const service = challenge.params['service'];
    if (service !== undefined) url.searchParams.set('service', service);
    url.searchParams.set('scope', challenge.params['scope'] ?? `repository:${this.reference.repository}:pull`);
    const credentials = this.options.credentials;
    const headers: Record<string, string> =
      credentials === undefined
        ? {}
        : { Authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` };
    let answer: Fetched;
    try {
      answer = await this.#fetch(url, headers);
    } catch (error) {
      const code = error instanceof TransportFailure ? error.code : errorCode(error);
      if (UNKNOWN_AUTHORITY_CODES.has(code)) throw new Refusal(401, MESSAGES.unknownAuthority);
      throw error;
    }
    if (answer.status === 401 || answer.status === 403) {
      throw credentials === undefined
        ? new Refusal(401, MESSAGES.authenticationRequired)
        : new Refusal(403, MESSAGES.invalidCredentials);
    }
    const body = jsonOf(answer.body);
    const token = body?.['token'] ?? body?.['access_token'];
    if (answer.status !== 200 || typeof token !== 'string' || token === '') throw new Refusal(400, MESSAGES.other);
    return token;
  }
}

function manifestError(fetched: Fetched): Refusal {
  if (fetched.status === 404) {
    const errors = jsonOf(fetched.body)?.['errors'];
    const codes = Array.isArray(errors) ? errors.map((entry: unknown) => (entry as { code?: unknown }).code) : [];
    if (codes.includes('MANIFEST_UNKNOWN')) return new Refusal(400, MESSAGES.manifestUnknown);
  }
  return new Refusal(400, MESSAGES.other);
}

async function fetchManifest(session: RegistrySession, reference: string, expectedDigest?: string) {
  const fetched = await session.get(`/v2/${session.reference.repository}/manifests/${reference}`, { Accept: ACCEPT });
  if (fetched.status !== 200) throw manifestError(fetched);
  const digest = sha256(fetched.body);
  if (expectedDigest !== undefined && expectedDigest !== digest) throw new Refusal(400, MESSAGES.other);
  const document = jsonOf(fetched.body);
  if (document === undefined) throw new Refusal(400, MESSAGES.other);
  const headerType = fetched.headers['content-type']?.split(';')[0]?.trim();
  const mediaType = typeof document['mediaType'] === 'string' ? document['mediaType'] : headerType;
  return { digest, document, mediaType };
}

/** The platform Thoth's (amd64) host picks from an index, as skopeo does. */
function linuxAmd64(index: Readonly<Record<string, unknown>>): string {
  const manifests = Array.isArray(index['manifests']) ? (index['manifests'] as unknown[]) : [];
  for (const entry of manifests) {
    const candidate = entry as { digest?: unknown; platform?: { os?: unknown; architecture?: unknown } };
    if (candidate.platform?.os === 'linux' && candidate.platform.architecture === 'amd64' && typeof candidate.digest === 'string') {
      return candidate.digest;
    }
  }
  throw new Refusal(400, MESSAGES.other);
}

async function fetchBlob(session: RegistrySession, digest: string): Promise<void> {
  const fetched = await session.get(`/v2/${session.reference.repository}/blobs/${digest}`, {});
  if (fetched.status !== 200 || sha256(fetched.body) !== digest) throw new Refusal(400, MESSAGES.other);
}

/**
 * Reads the manifest (and, for an index, the linux/amd64 image) and the image config, as
 * `skopeo inspect` does, and answers the top-level manifest digest.
 */
export async function inspectImage(reference: string, options: InspectOptions): Promise<Inspection> {
  const parsed = parseReference(reference);
  if (parsed === undefined) return { ok: false, status: 400, error: MESSAGES.other };
  const session = new RegistrySession(parsed, options);
  try {
    const top = await fetchManifest(session, parsed.digest ?? parsed.tag ?? 'latest', parsed.digest);
    let image = top;
    if (top.mediaType !== undefined && INDEX_TYPES.has(top.mediaType)) {
      const child = linuxAmd64(top.document);
      image = await fetchManifest(session, child, child);
    }
    const config = image.document['config'] as { digest?: unknown } | undefined;
    if (typeof config?.digest !== 'string') throw new Refusal(400, MESSAGES.other);
    await fetchBlob(session, config.digest);
    return { ok: true, digest: top.digest, registry: parsed.registry, repository: parsed.repository };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, status: error.status, error: error.message };
    return { ok: false, status: 400, error: MESSAGES.other };
  }
}
