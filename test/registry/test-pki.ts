/**
 * Throw-away certificates for registry tests: a CA, a server certificate for 127.0.0.1 and
 * localhost signed by it, and a self-signed token-signing certificate. Made with the openssl
 * CLI because node:crypto cannot issue X.509 certificates.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ServerPki {
  /** PEM bundle clients must trust. */
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface SigningPki {
  readonly certPath: string;
  readonly keyPath: string;
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function makeServerPki(dir: string): Promise<ServerPki> {
  const caPath = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const certPath = join(dir, 'server.crt');
  const keyPath = join(dir, 'server.key');
  const csrPath = join(dir, 'server.csr');
  const extPath = join(dir, 'server.ext');
  await run('openssl', ['req', '-x509', ...ecKey, '-keyout', caKey, '-out', caPath, '-days', '2', '-subj', '/CN=build-watcher test CA']);
  await run('openssl', ['req', ...ecKey, '-keyout', keyPath, '-out', csrPath, '-subj', '/CN=127.0.0.1']);
  await writeFile(extPath, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', csrPath, '-CA', caPath, '-CAkey', caKey, '-CAcreateserial',
    '-out', certPath, '-days', '2', '-extfile', extPath]);
  return { caPath, certPath, keyPath };
}

/** Self-signed, so the registry's rootcertbundle can be the certificate itself. */
export async function makeSigningPki(dir: string): Promise<SigningPki> {
  const certPath = join(dir, 'token-signer.crt');
  const keyPath = join(dir, 'token-signer.key');
  await run('openssl', ['req', '-x509', ...ecKey, '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=build-watcher token signer']);
  return { certPath, keyPath };
}
