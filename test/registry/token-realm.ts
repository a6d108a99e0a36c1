/**
 * A tiny Docker token-auth realm (https://distribution.github.io/distribution/spec/auth/token/)
 * on loopback. It checks Basic credentials and grants every scope asked for; anonymous callers
 * get a token with no access, so the registry answers 401 for them.
 */
import { createPrivateKey, createSign, randomUUID, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerPki, SigningPki } from './test-pki.js';

export interface TokenRealmOptions {
  readonly service: string;
  readonly issuer: string;
  readonly signing: SigningPki;
  readonly credentials?: { readonly username: string; readonly password: string };
  /** Which JSON field carries the token; the spec allows either or both. */
  readonly tokenField?: 'token' | 'access_token' | 'both';
  readonly expiresInSeconds?: number;
  /** Serve the realm over https with this certificate. */
  readonly tls?: ServerPki;
  /** The host its URL names (default 127.0.0.1): `localhost` makes it another host than the registry's, as auth.docker.io is. */
  readonly urlHost?: string;
}

export interface TokenRequestRecord {
  readonly scopes: readonly string[];
  readonly authenticated: boolean;
}

export interface TokenRealm {
  readonly url: string;
  /** Every token request seen, in order, so tests can count them. */
  readonly requests: readonly TokenRequestRecord[];
  /** Token requests arriving from now on are answered only once `until` settles. */
  hold(until: Promise<void>): void;
  /** The next answer sends its headers and `afterBytes` bytes of body, then cuts the connection. */
  cutNextAnswer(afterBytes: number): void;
  close(): Promise<void>;
}

interface Grant { type: string; name: string; actions: string[] }

function parseScope(scope: string): Grant | undefined {
  // repository:name:actions, where the name may itself hold a port-less path but never ':'.
  const match = /^([a-z]+):([^:]+):([a-z*,]*)$/.exec(scope);
  if (match === null) return undefined;
  return { type: match[1] ?? '', name: match[2] ?? '', actions: (match[3] ?? '').split(',').filter((a) => a !== '') };
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export async function startTokenRealm(options: TokenRealmOptions): Promise<TokenRealm> {
  const keyPem = await readFile(options.signing.keyPath);
  const certPem = await readFile(options.signing.certPath);
  const key = createPrivateKey(keyPem);
  const x5c = [new X509Certificate(certPem).raw.toString('base64')];
  const requests: TokenRequestRecord[] = [];
  const expiresIn = options.expiresInSeconds ?? 300;
  let held: Promise<void> = Promise.resolve();
  let cutAfterBytes: number | undefined;

  const sign = (subject: string, access: Grant[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c };
    const claims = {
      iss: options.issuer, sub: subject, aud: options.service,
      // Whole seconds: the registry reads exp as an integer, while expires_in may claim less.
      exp: now + Math.max(1, Math.ceil(expiresIn)), nbf: now - 10, iat: now, jti: randomUUID(), access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign('sha256').update(signingInput).sign({ key, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${base64url(signature)}`;
  };

  const authenticate = (req: IncomingMessage): 'anonymous' | 'ok' | 'bad' => {
    const header = req.headers.authorization;
    if (header === undefined) return 'anonymous';
    if (!header.startsWith('Basic ')) return 'bad';
    const decoded = Buffer.from(header.slice(6), 'base64').toString();
    const expected = options.credentials;
    if (expected === undefined) return 'ok';
    return decoded === `${expected.username}:${expected.password}` ? 'ok' : 'bad';
  };

  const answer = (res: ServerResponse, status: number, body: string): void => {
    const bytes = Buffer.from(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
    const cut = cutAfterBytes;
    cutAfterBytes = undefined;
    if (cut === undefined) {
      res.end(bytes);
      return;
    }
    res.write(bytes.subarray(0, cut), () => res.socket?.destroy());
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const go = (): void => respond(req, res);
    void held.then(go, go);
  };

  const respond = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://realm');
    if (req.method !== 'GET' || url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    const who = authenticate(req);
    requests.push({ scopes, authenticated: who === 'ok' });
    if (who === 'bad') {
      answer(res, 401, '{"details":"bad credentials"}');
      return;
    }
    const grants = who === 'ok' ? scopes.map(parseScope).filter((g): g is Grant => g !== undefined) : [];
    const token = sign(who === 'ok' ? (options.credentials?.username ?? 'anyone') : '', grants);
    const field = options.tokenField ?? 'token';
    const body: Record<string, unknown> = { expires_in: expiresIn, issued_at: new Date().toISOString() };
    if (field !== 'access_token') body['token'] = token;
    if (field !== 'token') body['access_token'] = token;
    answer(res, 200, JSON.stringify(body));
  };

  let server: Server;
  if (options.tls === undefined) {
    server = createHttpServer(handler);
  } else {
    server = createHttpsServer({ cert: await readFile(options.tls.certPath), key: await readFile(options.tls.keyPath) }, handler);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://${options.urlHost ?? '127.0.0.1'}:${port}/token`,
    requests,
    hold: (until) => {
      held = until;
    },
    cutNextAnswer: (afterBytes) => {
      cutAfterBytes = afterBytes;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
