import { readFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { KubeHttp } from './kube-http.js';
import { startProcess } from './processes.js';
import type { ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

const PORT_ATTEMPTS = 5;

export interface RunningEtcd {
  process: ManagedProcess;
  clientUrl: string;
  /** Starts it again once it has died: the same data directory and ports, so its data and address survive. */
  restart(): Promise<RunningEtcd>;
}

export interface RunningKubeApiserver {
  process: ManagedProcess;
  url: string;
  /** Self-signed serving certificate (with its CA) and key that kube-apiserver generated. */
  certPem: string;
  keyPem: string;
  /** Starts it again once it has died: the same port, flags and certificate directory (so the same certificate). */
  restart(): Promise<RunningKubeApiserver>;
}

/** Ports come from a port-0 listen; if another process grabs one first, try again with new ones. */
async function withFreshPorts<T>(name: string, start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw err;
      console.error(`${name}: a chosen port was taken meanwhile; retrying with new ports`);
    }
  }
}

class PortTakenError extends Error {}

/**
 * A restart must get its old ports back: the process that held them was just killed, and its
 * sockets may outlive the signal by a moment, so a taken port is tried again, not given up.
 */
async function withSamePorts<T>(name: string, timeoutMs: number, start: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await start();
    } catch (err) {
      if (!(err instanceof PortTakenError) || Date.now() >= deadline) throw err;
      console.error(`${name}: its old port is still held; trying again`);
      await delay(500);
    }
  }
}

/** Waits for `ready`, failing fast (and recognisably, on a port race) if the process dies. */
async function awaitReady<T>(proc: ManagedProcess, what: string, timeoutMs: number, ready: () => Promise<T | undefined>): Promise<T> {
  const died = proc.exited.then((code) => {
    const tail = proc.logTail();
    if (/address already in use|bind: /i.test(tail)) throw new PortTakenError(`${proc.name}: port taken`);
    throw new Error(`${proc.name} exited (${String(code)}) before ${what}:\n${tail}`);
  });
  try {
    return await Promise.race([died, waitFor(ready, { what, timeoutMs, onTimeout: () => proc.logTail() })]);
  } catch (err) {
    await proc.stop(2_000);
    throw err;
  } finally {
    died.catch(() => undefined);
  }
}

export function startEtcd(binary: string, dir: string, logDir: string, timeoutMs: number): Promise<RunningEtcd> {
  return withFreshPorts('etcd', async () => launchEtcd(binary, dir, logDir, timeoutMs, await freePort(), await freePort()));
}

async function launchEtcd(binary: string, dir: string, logDir: string, timeoutMs: number, clientPort: number, peerPort: number): Promise<RunningEtcd> {
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const proc = startProcess({
    name: 'etcd',
    command: binary,
    args: [
      '--name=harness',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=harness=${peerUrl}`,
      // Throwaway data: durability would only slow tests down. A kill -9 still loses nothing:
      // what etcd wrote sits in the OS's page cache, which outlives the process.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    logPath: join(logDir, 'etcd.log'),
  });
  await awaitReady(proc, 'etcd /health', timeoutMs, async () => ((await httpText(`${clientUrl}/health`)).includes('"health":"true"') ? true : undefined));
  return {
    process: proc,
    clientUrl,
    restart: () => withSamePorts('etcd', timeoutMs, () => launchEtcd(binary, dir, logDir, timeoutMs, clientPort, peerPort)),
  };
}

export interface KubeApiserverOptions {
  binary: string;
  dir: string;
  logDir: string;
  etcdUrl: string;
  tokenFile: string;
  serviceAccountPublicKeyFile: string;
  serviceAccountSigningKeyFile: string;
  adminToken: string;
  timeoutMs: number;
}

export function startKubeApiserver(o: KubeApiserverOptions): Promise<RunningKubeApiserver> {
  return withFreshPorts('kube-apiserver', async () => launchKubeApiserver(o, await freePort()));
}

async function launchKubeApiserver(o: KubeApiserverOptions, port: number): Promise<RunningKubeApiserver> {
  const certDir = join(o.dir, 'pki');
  const proc = startProcess({
    name: 'kube-apiserver',
    command: o.binary,
    args: [
      `--etcd-servers=${o.etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      // No --tls-cert-file: kube-apiserver writes a self-signed pair for 127.0.0.1 here, or,
      // on a restart, serves the pair it finds there.
      `--cert-dir=${certDir}`,
      `--token-auth-file=${o.tokenFile}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${o.serviceAccountPublicKeyFile}`,
      `--service-account-signing-key-file=${o.serviceAccountSigningKeyFile}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--endpoint-reconciler-type=none',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
    ],
    logPath: join(o.logDir, 'kube-apiserver.log'),
  });
  const url = `https://127.0.0.1:${port}`;
  const certPem = await awaitReady(proc, 'kube-apiserver /readyz', o.timeoutMs, async () => {
    const cert = await readFile(join(certDir, 'apiserver.crt'), 'utf8');
    const res = await new KubeHttp(url, cert, o.adminToken).send({ path: '/readyz' });
    return res.status === 200 ? cert : undefined;
  });
  const keyPem = await readFile(join(certDir, 'apiserver.key'), 'utf8');
  return { process: proc, url, certPem, keyPem, restart: () => withSamePorts('kube-apiserver', o.timeoutMs, () => launchKubeApiserver(o, port)) };
}

function httpText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
      res.on('error', reject);
    }).on('error', reject);
  });
}
