/**
 * Starts Debian `docker-registry` (distribution 2.8) instances on 127.0.0.1 with an OS-chosen
 * port, for integration tests and benchmarks.
 *
 *   const registry = await startRegistry({ auth: 'htpasswd', tls: true });
 *   // registry.host === '127.0.0.1:41234', registry.caPath is the test CA to trust
 *   const image = await pushTestImage(registry, { repository: 'ns/app', tag: 'v1', layerSizes: [1024] });
 *   await registry.stop();
 *
 * Each instance has its own temp dir (config, filesystem storage, certificates, log), deletes
 * enabled, and is removed by stop(). The registry's own log is kept in `logPath` until stop().
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeServerPki, makeSigningPki } from './test-pki.js';
import type { ServerPki } from './test-pki.js';
import { startTokenRealm } from './token-realm.js';
import type { TokenRealm } from './token-realm.js';

export { pushTestImage, TestRegistryClient } from './test-image.js';
export type { PushedImage, PushTestImageOptions } from './test-image.js';

export interface RegistryOptions {
  /** 'none' (default), htpasswd Basic auth, or Bearer tokens from a realm the harness runs. */
  readonly auth?: 'none' | 'htpasswd' | 'token';
  /** Serve https with a server certificate from a CA made for this instance. */
  readonly tls?: boolean;
  /** Defaults to a random user and password when auth is not 'none'. */
  readonly credentials?: { readonly username: string; readonly password: string };
  /** Token realm: which JSON field carries the token (default 'token'). */
  readonly tokenField?: 'token' | 'access_token' | 'both';
  /** Token realm: expires_in of issued tokens, in seconds (default 300). */
  readonly tokenExpiresInSeconds?: number;
  /** Token realm: the host its URL names (default 127.0.0.1, the registry's own). */
  readonly tokenRealmHost?: string;
  /** How long to wait for the registry to answer /v2/ (default 20 s). */
  readonly readyTimeoutMs?: number;
}

export interface RunningRegistry {
  /** '127.0.0.1:PORT', the registry part of image references. */
  readonly host: string;
  /** 'http://127.0.0.1:PORT' or 'https://127.0.0.1:PORT'. */
  readonly url: string;
  /** PEM CA bundle to trust, when tls is on. */
  readonly caPath?: string;
  readonly credentials?: { readonly username: string; readonly password: string };
  /** The token realm, when auth is 'token' (its `requests` record every token request). */
  readonly tokenRealm?: TokenRealm;
  readonly dataDir: string;
  readonly logPath: string;
  /**
   * Stops the registry process, awaits `outage`, and starts it again on the same port with the
   * same storage: a registry restart as clients see it (connections refused meanwhile).
   */
  restart(outage: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

const run = promisify(execFile);

function registryConfig(opts: {
  addr: string; dataDir: string; secret: string; tls?: ServerPki; htpasswdPath?: string;
  token?: { realm: string; service: string; issuer: string; bundle: string };
}): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: info',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${opts.dataDir}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${opts.addr}`,
    `  secret: ${opts.secret}`,
  ];
  if (opts.tls !== undefined) {
    lines.push('  tls:', `    certificate: ${opts.tls.certPath}`, `    key: ${opts.tls.keyPath}`);
  }
  if (opts.htpasswdPath !== undefined) {
    lines.push('auth:', '  htpasswd:', '    realm: build-watcher-test', `    path: ${opts.htpasswdPath}`);
  }
  if (opts.token !== undefined) {
    lines.push('auth:', '  token:', `    realm: ${opts.token.realm}`, `    service: ${opts.token.service}`,
      `    issuer: ${opts.token.issuer}`, `    rootcertbundle: ${opts.token.bundle}`);
  }
  return `${lines.join('\n')}\n`;
}

async function waitFor<T>(what: string, deadline: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

function probeV2(url: string, ca: Buffer | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const target = new URL('/v2/', url);
    const req = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, { method: 'GET', timeout: 2000, ...(ca === undefined ? {} : { ca }) }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 || res.statusCode === 401);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'bw-registry-'));
  const dataDir = join(dir, 'data');
  const logPath = join(dir, 'registry.log');
  const auth = options.auth ?? 'none';
  const credentials = auth === 'none' ? undefined
    : options.credentials ?? { username: `user-${randomBytes(3).toString('hex')}`, password: randomBytes(12).toString('base64url') };
  let realm: TokenRealm | undefined;
  let child: ChildProcess | undefined;

  const end = async (): Promise<void> => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 5000);
      await exited(child);
      clearTimeout(timer);
    }
  };
  const cleanup = async (): Promise<void> => {
    await end();
    await realm?.close();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const tls = options.tls === true ? await makeServerPki(dir) : undefined;
    let htpasswdPath: string | undefined;
    let token: { realm: string; service: string; issuer: string; bundle: string } | undefined;
    if (auth === 'htpasswd' && credentials !== undefined) {
      htpasswdPath = join(dir, 'htpasswd');
      const { stdout } = await run('htpasswd', ['-Bbn', credentials.username, credentials.password]);
      await writeFile(htpasswdPath, stdout);
    }
    if (auth === 'token') {
      const signing = await makeSigningPki(dir);
      const service = 'build-watcher-test-registry';
      const issuer = 'build-watcher-test-realm';
      realm = await startTokenRealm({
        service, issuer, signing,
        ...(credentials === undefined ? {} : { credentials }),
        ...(options.tokenField === undefined ? {} : { tokenField: options.tokenField }),
        ...(options.tokenExpiresInSeconds === undefined ? {} : { expiresInSeconds: options.tokenExpiresInSeconds }),
        ...(tls === undefined ? {} : { tls }),
        ...(options.tokenRealmHost === undefined ? {} : { urlHost: options.tokenRealmHost }),
      });
      token = { realm: realm.url, service, issuer, bundle: signing.certPath };
    }
    const configPath = join(dir, 'config.yml');
    const secret = randomBytes(16).toString('hex');
    const ca = tls === undefined ? undefined : await readFile(tls.caPath);
    /** Starts the process listening on `addr` and resolves with the address it took. */
    const launch = async (addr: string): Promise<string> => {
      await writeFile(configPath, registryConfig({
        addr, dataDir, secret,
        ...(tls === undefined ? {} : { tls }),
        ...(htpasswdPath === undefined ? {} : { htpasswdPath }),
        ...(token === undefined ? {} : { token }),
      }));
      // The log goes to a file, not a pipe, so a chatty registry never blocks on a full pipe.
      const log = await open(logPath, 'w');
      const started = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', log.fd, log.fd] });
      child = started;
      await log.close();
      const spawnError = new Promise<never>((_, reject) => started.once('error', reject));
      spawnError.catch(() => undefined);

      const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
      const listening = await Promise.race([spawnError, waitFor('docker-registry to listen', deadline, async () => {
        if (started.exitCode !== null) throw new Error(`docker-registry exited: ${(await readFile(logPath, 'utf8')).slice(-2000)}`);
        const match = /listening on (127\.0\.0\.1:\d+)/.exec(await readFile(logPath, 'utf8'));
        return match?.[1];
      })]);
      const url = `${tls === undefined ? 'http' : 'https'}://${listening}`;
      await waitFor('docker-registry to answer /v2/', deadline, async () => ((await probeV2(url, ca)) ? true : undefined));
      return listening;
    };
    const host = await launch('127.0.0.1:0');
    const url = `${tls === undefined ? 'http' : 'https'}://${host}`;
    const restart = async (outage: () => Promise<void>): Promise<void> => {
      await end();
      await outage();
      await launch(host);
    };

    return {
      host, url, dataDir, logPath,
      ...(tls === undefined ? {} : { caPath: tls.caPath }),
      ...(credentials === undefined ? {} : { credentials }),
      ...(realm === undefined ? {} : { tokenRealm: realm }),
      restart, stop: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
