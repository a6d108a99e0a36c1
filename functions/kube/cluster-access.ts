/**
 * Where the API server is and how to authenticate. In a pod, the function reads its service account's files
 * itself (`inClusterAccess`); only a kubeconfig (the command line, or `func run` on a laptop) goes through
 * `@kubernetes/client-node`, whose config module takes 0.7–1.0 s to import on this hardware: the function scales
 * to zero, and that import was most of the time between a cold start and its first submission (`npm run bench`).
 */
import { access, readFile } from 'node:fs/promises';
import type https from 'node:https';
import { isIPv6 } from 'node:net';
import path from 'node:path';
import { refused } from '../errors.js';
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
      const [token, ca] = await Promise.all([readFile(tokenFile, 'utf8'), readFile(serviceAccountFile('ca.crt', directory))]);
      return { token: token.trim(), ca, readAt: now() };
    } catch (error) {
      // The code only: never the file's content.
      throw refused(`cannot read the service account in ${directory} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  let secrets = await readSecrets();
  // A burst of requests after the interval re-reads the files once, not once per request.
  const rereads = new SingleFlight<typeof secrets>();
  const namespace = await readFile(serviceAccountFile('namespace', directory), 'utf8').then((text) => text.trim(), () => '');

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

/** client-node's loading: the given file, else KUBECONFIG, ~/.kube/config or in-cluster. */
export async function kubeconfigAccess(file: string | undefined): Promise<ClusterAccess> {
  // The config module alone: the package's index also loads every API client, a third more time.
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const config = new KubeConfig();
  try {
    if (file !== undefined && file !== '') config.loadFromFile(file);
    else config.loadFromDefault();
  } catch (error) {
    // Only the error code or name: a kubeconfig parse error may quote the file, tokens included.
    const why = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.name : 'unknown error');
    // Our configuration, not the sender's mistake: never a 4xx.
    throw refused(`cannot load the Kubernetes configuration${file ? ` ${file}` : ''} (${why})`);
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
