/**
 * Where the API server is and how to authenticate. In a pod, the function reads its service account's files
 * itself (`inClusterAccess`); only a kubeconfig (the command line, or `func run` on a laptop) goes through
 * `@kubernetes/client-node`, whose config module takes 0.7–1.0 s to import on this hardware: the function scales
 * to zero, and that import was most of the time between a cold start and its first submission (`npm run bench`).
 */
import { access } from 'node:fs/promises';
import type https from 'node:https';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { refused } from '../errors.js';
import { checkLocalFile, LocalFileError, readLocalFile, unreadableBecause } from '../local-file.js';
import { SingleFlight } from '../single-flight.js';
import { SERVICE_ACCOUNT_DIR, serviceAccountFile } from './service-account.js';

export interface ClusterAccess {
  readonly server: URL;
  /** The namespace of the kubeconfig's current context, or the service account's own. */
  readonly contextNamespace: string | undefined;
  /** The current user's bearer token (`oc login` gives one), for --pass-token. */
  readonly userToken: string | undefined;
  /** Adds the CA, the client certificate and the credentials to one request's options. */
  authorize(options: https.RequestOptions): Promise<void>;
}

/** The kubelet rotates projected tokens well before they expire; client-node re-reads as often. */
const REREAD_MS = 60_000;

const exists = (file: string): Promise<boolean> => access(file).then(() => true, () => false);

/**
 * The pod's own account, in client-node's `loadFromDefault` order (KUBECONFIG, ~/.kube/config, then the service
 * account), so a kubeconfig always wins. `undefined` when a kubeconfig should be loaded instead, or not in a pod.
 */
export async function inClusterAccess(env: NodeJS.ProcessEnv, directory = SERVICE_ACCOUNT_DIR, now: () => number = Date.now): Promise<ClusterAccess | undefined> {
  if ((env['KUBECONFIG'] ?? '') !== '') return undefined;
  const home = env['HOME'] ?? '';
  if (home !== '' && (await exists(path.join(home, '.kube', 'config')))) return undefined;
  const tokenFile = serviceAccountFile('token', directory);
  if (!(await exists(tokenFile))) return undefined;
  const host = env['KUBERNETES_SERVICE_HOST'] ?? '';
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '';
  if (host === '' || port === '') throw refused('a service account token is mounted, but KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not set');
  // As client-node: the API server's plain-HTTP ports mean plain HTTP.
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  const server = new URL(`${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`);
  const readSecrets = async () => {
    try {
      return { token: readLocalFile(tokenFile).trim(), ca: readLocalFile(serviceAccountFile('ca.crt', directory)), readAt: now() };
    } catch (error) {
      // The reason only: never the file's content.
      throw refused(`cannot read the service account in ${directory} (${unreadableBecause(error)})`);
    }
  };
  let secrets = await readSecrets();
  // A burst of requests after the interval re-reads the files once, not once per request.
  const rereads = new SingleFlight<typeof secrets>();
  const namespace = await Promise.resolve().then(() => readLocalFile(serviceAccountFile('namespace', directory)).trim()).catch(() => '');

  return {
    server,
    contextNamespace: namespace === '' ? undefined : namespace,
    userToken: undefined,
    async authorize(options) {
      if (now() - secrets.readAt >= REREAD_MS) secrets = await rereads.run(readSecrets);
      options.ca = secrets.ca;
      options.headers = { ...options.headers, Authorization: `Bearer ${secrets.token}` };
    },
  };
}

/** A `token-file` key and its value, in block or flow YAML or JSON, quoted or not. */
const TOKEN_FILE = /["']?token-file["']?\s*:\s*("[^"\n]*"|'[^'\n]*'|[^\s,}\]#]+)/g;

/** The kubeconfig files client-node's `loadFromDefault` would read: the given file, else KUBECONFIG's list, else ~/.kube/config. */
async function kubeconfigFiles(file: string | undefined, env: NodeJS.ProcessEnv): Promise<readonly string[]> {
  if (file !== undefined && file !== '') return [file];
  const listed = (env['KUBECONFIG'] ?? '').split(path.delimiter).filter((name) => name !== '');
  if (listed.length > 0) return listed;
  const home = env['HOME'] ?? '';
  const config = path.join(home, '.kube', 'config');
  return home !== '' && (await exists(config)) ? [config] : [];
}

/**
 * client-node's loading (the given file, else KUBECONFIG, ~/.kube/config or in-cluster), each file read here within
 * local-file.ts's bounds, and the certificate files the current context names checked against them (client-node reads those
 * itself, at each request).
 */
export async function kubeconfigAccess(file: string | undefined, env: NodeJS.ProcessEnv = {}): Promise<ClusterAccess> {
  // The config module alone: the package's index also loads every API client, a third more time.
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const files = await kubeconfigFiles(file, env);
  let config = new KubeConfig();
  let reading = file ?? '';
  try {
    if (files.length === 0) config.loadFromDefault();
    for (const [index, name] of files.entries()) {
      reading = name;
      const text = readLocalFile(name);
      // client-node reads a user's token-file as it parses, before we could look: those paths are checked first.
      for (const [, named] of text.matchAll(TOKEN_FILE)) {
        reading = named?.replace(/^(["'])(.*)\1$/, '$2') ?? '';
        checkLocalFile(reading);
      }
      reading = name;
      const loaded = new KubeConfig();
      loaded.loadFromString(text);
      loaded.makePathsAbsolute(path.dirname(name));
      if (index === 0) config = loaded;
      else config.mergeConfig(loaded);
    }
    const [cluster, user] = [config.getCurrentCluster(), config.getCurrentUser()];
    for (const named of [cluster?.caFile, user?.certFile, user?.keyFile]) {
      if (named === undefined || named === null || named === '') continue;
      reading = named;
      checkLocalFile(named);
    }
  } catch (error) {
    // Only the reason (an error code, a broken bound, an error's name): a kubeconfig parse error may quote the file, tokens included.
    const why = error instanceof LocalFileError || (error as NodeJS.ErrnoException).code !== undefined ? unreadableBecause(error)
      : error instanceof Error ? error.name : 'unknown error';
    // Our configuration, not the sender's mistake: never a 4xx.
    throw refused(`cannot load the Kubernetes configuration${reading !== '' ? ` ${reading}` : ''} (${why})`);
  }
  const cluster = config.getCurrentCluster();
  if (cluster === null) throw refused('no Kubernetes cluster configured (no kubeconfig and not in a cluster)');
  const context = config.getContextObject(config.getCurrentContext());
  const token = config.getCurrentUser()?.token;
  return {
    server: new URL(cluster.server),
    contextNamespace: context?.namespace !== undefined && context.namespace !== '' ? context.namespace : undefined,
    userToken: token !== undefined && token !== '' ? token : undefined,
    async authorize(options) {
      await config.applyToHTTPSOptions(options);
      // client-node's Agent for the cluster does not keep connections alive: every API call paid a TLS handshake
      // and a new secure context, doubling the time per Build and the memory of a burst (README, Benchmarks).
      // Without a proxy, node's global agent pools connections by the same CA and client certificate, as in a pod.

      if (cluster.proxyUrl === undefined || cluster.proxyUrl === '') delete options.agent;
    },
  };
}
