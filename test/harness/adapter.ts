import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiFront } from './api-front.js';
import type { ManifestApplier } from './apply.js';
import { startProcess } from './processes.js';
import type { ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

/** One entry of an ApiServerSource's `spec.resources`. */
export interface AdapterResource {
  apiVersion: string;
  kind: string;
  /** Label selector, e.g. `app=x`. */
  selector?: string;
}

export interface StartAdapterOptions {
  /** K_SINK: where CloudEvents go, e.g. `http://127.0.0.1:${port}/`. */
  sink: string;
  resources: readonly AdapterResource[];
  /** Set explicitly: the CRD defaults to Reference, the bare adapter to Resource. */
  mode: 'Resource' | 'Reference';
  /** Kubeconfig with the adapter's service-account token (`kubeconfigForServiceAccount`). */
  kubeconfigPath: string;
  /** Namespaces to watch; the ApiServerSource's own namespace when omitted. */
  namespaces?: readonly string[];
  /** `spec.namespaceSelector: {}`: watch every namespace. */
  allNamespaces?: boolean;
  /** The ApiServerSource's name and namespace (NAME, NAMESPACE). */
  name?: string;
  namespace?: string;
  /** K_CE_OVERRIDES extensions. */
  ceOverrides?: Readonly<Record<string, string>>;
  /** Wait until every watch is established before returning (default true). */
  waitForWatches?: boolean;
  /** How long to wait for the watches (default: the control plane's ready timeout, 120 s). */
  watchTimeoutMs?: number;
  /**
   * Environment that wins over the one built from these options: e.g. the Deployment the
   * ApiServerSource reconciler wrote (K_SINK, K_SOURCE_CONFIG, ...) and HTTP_PROXY.
   */
  env?: Readonly<Record<string, string>>;
}

export interface AdapterHandle {
  /** Stops the adapter; events for changes made meanwhile are never sent (as in a cluster). */
  stop(): Promise<void>;
  /** Stops it if running and starts it again with the same settings, waiting for its watches. */
  restart(): Promise<void>;
  /**
   * Resolves once every watch has been established (again) since `sinceMs`: after the API
   * server's connections were cut, the proof that the adapter reconnected.
   */
  watchesEstablished(sinceMs: number, timeoutMs?: number): Promise<void>;
  running(): boolean;
  logTail(lines?: number): string;
  /** The processes it started so far (for leak checks). */
  processes(): ManagedProcess[];
}

export interface AdapterContext {
  binary: string;
  logDir: string;
  front: ApiFront;
  applier: ManifestApplier;
  timeoutMs: number;
}

let adapterCount = 0;

/**
 * Runs the receive adapter as Knative's ApiServerSource controller would: K_SINK,
 * K_SOURCE_CONFIG (mode explicit), NAME, NAMESPACE, SYSTEM_NAMESPACE and a kubeconfig. Its
 * health server is hard-wired to :8080 (knative.dev/pkg); a failure to bind there is harmless, so
 * readiness is judged from the adapter's watches as the API front sees them instead.
 */
export async function startAdapter(ctx: AdapterContext, options: StartAdapterOptions): Promise<AdapterHandle> {
  const id = ++adapterCount;
  const name = options.name ?? 'build-watcher';
  const namespace = options.namespace ?? options.namespaces?.[0] ?? 'default';
  const namespaces = options.namespaces ?? [namespace];
  const token = await kubeconfigToken(options.kubeconfigPath);
  const resources = await Promise.all(
    options.resources.map(async (r) => {
      const [group, version] = r.apiVersion.includes('/') ? r.apiVersion.split('/') : ['', r.apiVersion];
      const collection = await ctx.applier.pathFor(r.apiVersion, r.kind, namespace);
      const plural = collection.slice(collection.lastIndexOf('/') + 1);
      const namespaced = collection.includes('/namespaces/');
      return { group: group ?? '', version: version ?? '', plural, namespaced, selector: r.selector ?? '' };
    }),
  );
  const sourceConfig = {
    namespaces,
    allNamespaces: options.allNamespaces ?? false,
    resources: resources.map((r) => ({
      gvr: { Group: r.group, Version: r.version, Resource: r.plural },
      ...(r.selector ? { selector: r.selector } : {}),
    })),
    mode: options.mode,
  };
  const expectedWatches = resources.flatMap((r) => {
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    return r.namespaced && !options.allNamespaces
      ? namespaces.map((ns) => `${base}/namespaces/${ns}/${r.plural}`)
      : [`${base}/${r.plural}`];
  });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/',
    K_SINK: options.sink,
    K_SOURCE_CONFIG: JSON.stringify(sourceConfig),
    NAME: name,
    NAMESPACE: namespace,
    SYSTEM_NAMESPACE: 'knative-eventing',
    K_LOGGING_CONFIG: '{}',
    K_OBSERVABILITY_CONFIG: '{}',
    ...(options.ceOverrides ? { K_CE_OVERRIDES: JSON.stringify({ extensions: options.ceOverrides }) } : {}),
    ...options.env,
    KUBECONFIG: options.kubeconfigPath,
    // Its pprof server otherwise takes :8008 on every interface; port 0 keeps adapters apart.
    PROFILING_PORT: '0',
  };

  const started: ManagedProcess[] = [];
  let current: ManagedProcess | undefined;
  const launch = async (): Promise<void> => {
    const sinceMs = Date.now();
    const proc = startProcess({
      name: `adapter-${id}`,
      command: ctx.binary,
      args: [],
      env,
      logPath: join(ctx.logDir, `adapter-${id}.log`),
    });
    started.push(proc);
    current = proc;
    if (options.waitForWatches === false) return;
    await watchesSince(proc, sinceMs, options.watchTimeoutMs ?? ctx.timeoutMs);
  };
  const watchesSince = async (proc: ManagedProcess, sinceMs: number, timeoutMs: number): Promise<void> => {
    await waitFor(
      async () => {
        if (!proc.running()) throw new Error(`adapter exited:\n${proc.logTail()}`);
        const open = ctx.front.establishedWatches(token, sinceMs);
        return expectedWatches.every((w) => open.has(w)) ? true : undefined;
      },
      { what: `the adapter's watches on ${expectedWatches.join(', ')}`, timeoutMs, onTimeout: () => proc.logTail() },
    );
  };

  const handle: AdapterHandle = {
    async stop() {
      await current?.stop();
    },
    async restart() {
      await current?.stop();
      await launch();
    },
    async watchesEstablished(sinceMs, timeoutMs) {
      if (current === undefined) throw new Error('the adapter was never started');
      await watchesSince(current, sinceMs, timeoutMs ?? options.watchTimeoutMs ?? ctx.timeoutMs);
    },
    running: () => current?.running() ?? false,
    logTail: (lines) => current?.logTail(lines) ?? '',
    processes: () => [...started],
  };
  try {
    await launch();
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}

/** The bearer token in a kubeconfig's current user; the API front recognises the adapter by it. */
async function kubeconfigToken(path: string): Promise<string> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const config = new KubeConfig();
  config.loadFromString(await readFile(path, 'utf8'));
  const token = config.getCurrentUser()?.token;
  if (!token) throw new Error(`${path}: the adapter's kubeconfig must authenticate with a token`);
  return token;
}
