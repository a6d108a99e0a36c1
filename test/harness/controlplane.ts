import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdapter } from './adapter.js';
import type { AdapterHandle, StartAdapterOptions } from './adapter.js';
import { startApiFront } from './api-front.js';
import type { ApiFront, DroppablePatch, Hold, PatchDrop } from './api-front.js';
import { ManifestApplier } from './apply.js';
import type { ManifestInput, ManifestObject } from './apply.js';
import { locateBinaries, readVersions } from './components.js';
import type { Binaries, ComponentVersions } from './components.js';
import { installCrds } from './crds.js';
import { KubeHttp } from './kube-http.js';
import { writeKubeconfig } from './kubeconfig.js';
import { registerTempDir } from './processes.js';
import type { ManagedProcess } from './processes.js';
import { startEtcd, startKubeApiserver } from './servers.js';
import type { RunningEtcd, RunningKubeApiserver } from './servers.js';

export interface StartControlPlaneOptions {
  /** Deadline for each component to become ready (default 120 s: a loaded 2-core machine is slow). */
  readyTimeoutMs?: number;
  /** Skip installing CRDs (default: install them all). */
  skipCrds?: boolean;
}

export type ControlPlaneComponent = 'etcd' | 'kube-apiserver';

export interface ControlPlane {
  /** Where clients should connect: the API front (kube-apiserver plus the builds/log stand-in). */
  readonly server: string;
  /** kube-apiserver itself, bypassing the front. */
  readonly kubeApiserverUrl: string;
  /** PEM of the CA that signed the serving certificate of both `server` and `kubeApiserverUrl`. */
  readonly caPem: string;
  /** Admin (system:masters) kubeconfig pointing at `server`. */
  readonly adminKubeconfigPath: string;
  /** Admin client of the harness's own; sends bodies verbatim. */
  readonly admin: KubeHttp;
  readonly versions: ComponentVersions;
  readonly binaries: Binaries;
  /** Names of the CRDs installed at start. */
  readonly crds: readonly string[];
  /** A fresh token for an existing service account (TokenRequest API, 24 h). */
  tokenForServiceAccount(namespace: string, name: string): Promise<string>;
  /** Writes a kubeconfig with a fresh token for an existing service account; returns its path. */
  kubeconfigForServiceAccount(namespace: string, name: string): Promise<string>;
  /**
   * The same, for `server` in place of the API front's address (a relay in front of it, such as
   * test/e2e/tcp-proxy.ts), with the token, whose calls `apiCallsWith` counts.
   */
  serviceAccountCredentials(namespace: string, name: string, server?: string): Promise<{ readonly kubeconfig: string; readonly token: string }>;
  /**
   * What the kubelet mounts into a pod running as this service account (`token`, `ca.crt`,
   * `namespace`), in a directory of its own; the server is `server`'s host and port, which a pod
   * finds in KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (`inClusterEnv`).
   */
  serviceAccountDirectory(namespace: string, name: string): Promise<string>;
  /** KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, as a pod's environment has them. */
  readonly inClusterEnv: Readonly<Record<'KUBERNETES_SERVICE_HOST' | 'KUBERNETES_SERVICE_PORT', string>>;
  /** Server-side apply of a YAML/JSON file, a directory of them, or objects; throws on any rejected field. */
  applyManifests(input: ManifestInput): Promise<ManifestObject[]>;
  /** REST path of an object or (without `name`) its collection, found through discovery. */
  pathFor(apiVersion: string, kind: string, namespace?: string, name?: string): Promise<string>;
  /** STAND-IN: the text `GET .../builds/{name}/log` serves through `server`. */
  setBuildLog(namespace: string, name: string, text: string): void;
  /** Every API request made with `token` through `server` (`METHOD path`), for counting calls. */
  apiCallsWith(token: string): readonly string[];
  /** STAND-IN: holds the next `GET .../builds/{name}/log` until released (ApiFront.holdNextBuildLog). */
  holdNextBuildLog(namespace: string, name: string): Hold;
  /** Resets the connection of every PATCH of the Build that matches (ApiFront.dropBuildPatches). */
  dropBuildPatches(namespace: string, name: string, matches: (patch: DroppablePatch) => boolean): PatchDrop;
  /** Starts Knative's ApiServerSource receive adapter against this control plane. */
  startAdapter(options: StartAdapterOptions): Promise<AdapterHandle>;
  /**
   * kill -9 of etcd or kube-apiserver (its whole process group), as a node failure takes it. The
   * API front stays up: what was streaming through it ends, and it answers 503 until the API
   * server is back, as a load balancer in front of one would.
   */
  kill(component: ControlPlaneComponent): Promise<void>;
  /** Starts a killed component again, with its data directory, ports and certificates; resolves once it is ready. */
  restart(component: ControlPlaneComponent): Promise<void>;
  /** Pids of every process this control plane started (watchdogs included) that still run. */
  runningPids(): number[];
  /** Stops adapters, the front, kube-apiserver and etcd; removes the temporary directory. */
  stop(): Promise<void>;
}

/**
 * Starts etcd and kube-apiserver (RBAC, service-account tokens, self-signed serving
 * certificate) built by test/controlplane/build.sh, on 127.0.0.1 ports chosen by the OS, plus
 * the API front, and installs the CRDs. Set BUILD_WATCHER_HARNESS_LOG_DIR to keep the
 * components' logs somewhere that outlives the run.
 */
export async function startControlPlane(options: StartControlPlaneOptions = {}): Promise<ControlPlane> {
  const timeoutMs = options.readyTimeoutMs ?? 120_000;
  const versions = await readVersions();
  const binaries = await locateBinaries(versions);
  const dir = await mkdtemp(join(tmpdir(), 'build-watcher-controlplane-'));
  const removeDir = registerTempDir(dir);
  const logDir = process.env['BUILD_WATCHER_HARNESS_LOG_DIR'] ?? join(dir, 'logs');
  await mkdir(logDir, { recursive: true });

  const processes: ManagedProcess[] = [];
  const adapters: AdapterHandle[] = [];
  let front: ApiFront | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const adapter of adapters) await adapter.stop();
    await front?.close();
    for (const proc of processes.reverse()) await proc.stop();
    removeDir();
  };

  try {
    const adminToken = randomBytes(32).toString('base64url');
    const tokenFile = join(dir, 'tokens.csv');
    await writeFile(tokenFile, `${adminToken},harness-admin,harness-admin,"system:masters"\n`, { mode: 0o600 });
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicKeyFile = join(dir, 'service-account.pub');
    const signingKeyFile = join(dir, 'service-account.key');
    await writeFile(publicKeyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(signingKeyFile, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

    const etcd = await startEtcd(binaries.etcd, dir, logDir, timeoutMs);
    processes.push(etcd.process);
    const apiserver = await startKubeApiserver({
      binary: binaries.kubeApiserver,
      dir,
      logDir,
      etcdUrl: etcd.clientUrl,
      tokenFile,
      serviceAccountPublicKeyFile: publicKeyFile,
      serviceAccountSigningKeyFile: signingKeyFile,
      adminToken,
      timeoutMs,
    });
    processes.push(apiserver.process);
    const caPem = apiserver.certPem;
    const direct = new KubeHttp(apiserver.url, caPem, adminToken);
    front = await startApiFront({ upstream: apiserver.url, caPem, certPem: apiserver.certPem, keyPem: apiserver.keyPem, admin: direct });
    const apiFront = front;
    const admin = new KubeHttp(apiFront.url, caPem, adminToken);
    const applier = new ManifestApplier(admin);
    const adminKubeconfigPath = join(dir, 'admin.kubeconfig');
    await writeKubeconfig(adminKubeconfigPath, { server: apiFront.url, caPem, token: adminToken, user: 'harness-admin' });
    const crds = options.skipCrds ? [] : await installCrds(applier, versions);

    const tokenForServiceAccount = async (namespace: string, name: string): Promise<string> => {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`;
      const review = await admin.json({
        method: 'POST',
        path,
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 86_400 } },
      });
      const token = tokenOf(review);
      if (token === undefined) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
      return token;
    };
    let kubeconfigs = 0;
    const serviceAccountCredentials = async (namespace: string, name: string, server = apiFront.url) => {
      const token = await tokenForServiceAccount(namespace, name);
      const kubeconfig = join(dir, `sa-${namespace}-${name}-${++kubeconfigs}.kubeconfig`);
      await writeKubeconfig(kubeconfig, { server, caPem, token, user: `system:serviceaccount:${namespace}:${name}` });
      return { kubeconfig, token };
    };
    const servers: { etcd: RunningEtcd; 'kube-apiserver': RunningKubeApiserver } = { etcd, 'kube-apiserver': apiserver };

    return {
      server: apiFront.url,
      kubeApiserverUrl: apiserver.url,
      caPem,
      adminKubeconfigPath,
      admin,
      versions,
      binaries,
      crds,
      tokenForServiceAccount,
      kubeconfigForServiceAccount: async (namespace, name) => (await serviceAccountCredentials(namespace, name)).kubeconfig,
      serviceAccountCredentials,
      async serviceAccountDirectory(namespace, name) {
        const token = await tokenForServiceAccount(namespace, name);
        const directory = join(dir, `sa-${namespace}-${name}-${++kubeconfigs}`);
        await mkdir(directory);
        await Promise.all([
          writeFile(join(directory, 'token'), token, { mode: 0o600 }),
          writeFile(join(directory, 'ca.crt'), caPem),
          writeFile(join(directory, 'namespace'), namespace),
        ]);
        return directory;
      },
      inClusterEnv: { KUBERNETES_SERVICE_HOST: new URL(apiFront.url).hostname, KUBERNETES_SERVICE_PORT: new URL(apiFront.url).port },
      applyManifests: (input) => applier.apply(input),
      pathFor: (apiVersion, kind, namespace, name) => applier.pathFor(apiVersion, kind, namespace, name),
      setBuildLog: (namespace, name, text) => apiFront.setBuildLog(namespace, name, text),
      apiCallsWith: (token) => apiFront.callsWith(token),
      holdNextBuildLog: (namespace, name) => apiFront.holdNextBuildLog(namespace, name),
      dropBuildPatches: (namespace, name, matches) => apiFront.dropBuildPatches(namespace, name, matches),
      async startAdapter(adapterOptions) {
        const adapter = await startAdapter(
          { binary: binaries.receiveAdapter, logDir, front: apiFront, applier, timeoutMs },
          adapterOptions,
        );
        adapters.push(adapter);
        return adapter;
      },
      kill: (component) => servers[component].process.kill(),
      async restart(component) {
        if (servers[component].process.running()) throw new Error(`${component} is running: kill it before restarting it`);
        if (component === 'etcd') servers.etcd = await servers.etcd.restart();
        else servers['kube-apiserver'] = await servers['kube-apiserver'].restart();
        processes.push(servers[component].process);
      },
      runningPids: () => [...processes, ...adapters.flatMap((a) => a.processes())].filter((p) => p.running()).map((p) => p.pid),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function tokenOf(review: unknown): string | undefined {
  if (review === null || typeof review !== 'object' || !('status' in review)) return undefined;
  const status = review.status;
  if (status === null || typeof status !== 'object' || !('token' in status)) return undefined;
  return typeof status.token === 'string' ? status.token : undefined;
}
