/**
 * Runs the function the way it runs in a cluster: faas-js-runtime's own command line, in a
 * child process, loading functions/index.ts (through tsx, so no build step is needed), or the
 * compiled build/functions/index.js that `npm run build` made (`compiled`, for benchmarks: tsx's
 * loader and its transpiled sources are not part of the deployed function's memory or time).
 * With `pod`, it reads its service account where the kubelet mounts it (`inPod`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUNTIME_CLI = path.join(ROOT, 'node_modules/faas-js-runtime/bin/cli.js');
const SOURCE_ENTRY = ['--import', 'tsx', RUNTIME_CLI, path.join(ROOT, 'functions/index.ts')];
const COMPILED_ENTRY = [RUNTIME_CLI, path.join(ROOT, 'build/functions/index.js')];

export interface RunningFunction {
  readonly url: string;
  /** Everything the process wrote, stdout and stderr, as lines. */
  readonly lines: readonly string[];
  /** Resolves when a line matching `pattern` appears. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** A port the OS just handed out; the runtime insists on being told one (0 means 8080 to it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    if (await probe()) return;
    const exit = exited();
    if (exit !== undefined) throw new Error(`${what}: the function exited (${exit})`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

export interface StartFunctionOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /** Wait for readiness (default) or return at once, e.g. to watch it refuse to start. */
  readonly waitReady?: boolean;
  /** Run build/functions/index.js without tsx; the caller has run `npm run build`. */
  readonly compiled?: boolean;
  /** With `compiled`: another compiled handler module in its place (a benchmark's echo function). */
  readonly module?: string;
  /**
   * A service account directory (ControlPlane.serviceAccountDirectory) to run with as in a pod;
   * `env` should then hold ControlPlane.inClusterEnv and no KUBECONFIG.
   */
  readonly pod?: { readonly serviceAccount: string };
}

/** Mounts `serviceAccount` where the kubelet would, in a private /run, then runs the command. */
const AS_IN_A_POD = 'mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io && ln -s "$1" /run/secrets/kubernetes.io/serviceaccount && shift && exec "$@"';

/**
 * `command` as a pod runs it: in a mount namespace of its own where the service account's token,
 * CA and namespace are at the kubelet's path (the machine's own /run is untouched). The process
 * keeps the pid: unshare and sh exec what follows them.
 */
export function inPod(serviceAccount: string, command: readonly string[]): [string, string[]] {
  return ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', AS_IN_A_POD, 'sh', serviceAccount, ...command]];
}

const PORT_ATTEMPTS = 5;

export function startFunction(options: StartFunctionOptions): Promise<RunningFunction & { readonly process: ChildProcess }> {
  return startFunctionAttempt(options, 1);
}

async function startFunctionAttempt(options: StartFunctionOptions, attempt: number): Promise<RunningFunction & { readonly process: ChildProcess }> {
  const port = await freePort();
  const compiled = options.module === undefined ? COMPILED_ENTRY : [RUNTIME_CLI, options.module];
  const node = [process.execPath, ...(options.compiled === true ? compiled : SOURCE_ENTRY)];
  const [command, args] = options.pod === undefined ? [node[0] ?? '', node.slice(1)] : inPod(options.pod.serviceAccount, node);
  // In a pod, HOME holds no ~/.kube/config, which would win over the service account.
  const home = options.pod === undefined ? (process.env['HOME'] ?? '/tmp') : options.pod.serviceAccount;
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: home, FUNC_PORT: String(port), FUNC_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const watchers = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exit = `code ${code}, signal ${signal}`;
      resolve();
    }),
  );
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        for (const watcher of watchers) if (watcher.pattern.test(line)) watcher.resolve(line);
      }
    });
  }
  const url = `http://127.0.0.1:${port}`;
  const running = {
    url,
    lines,
    process: child,
    waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
      const seen = lines.find((line) => pattern.test(line));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const watcher = { pattern, resolve: (line: string) => { clearTimeout(timer); watchers.delete(watcher); resolve(line); } };
        const timer = setTimeout(() => { watchers.delete(watcher); reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`)); }, timeoutMs);
        watchers.add(watcher);
      });
    },
    async stop(): Promise<void> {
      if (exit === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  if (options.waitReady !== false) {
    try {
      await waitUntil('readiness', options.timeoutMs ?? 20_000, async () => {
        try {
          return (await fetch(`${url}/health/readiness`)).ok;
        } catch {
          return false;
        }
      }, () => exit);
    } catch (error) {
      await running.stop();
      // The port was free on 127.0.0.1 a moment ago; the runtime listens on every address, and on
      // a busy machine another process can take it first. That is no failure of the function.
      if (attempt < PORT_ATTEMPTS && lines.some((line) => line.includes('EADDRINUSE'))) return startFunctionAttempt(options, attempt + 1);
      throw new Error(`${(error as Error).message}\n${lines.slice(-20).join('\n')}`);
    }
  }
  return running;
}

export interface ApiServerEvent {
  readonly type: string;
  readonly object: Record<string, unknown> | string;
  readonly extensions?: Readonly<Record<string, string>>;
}

/** The headers of a binary-mode CloudEvent: `attributes` become `ce-*` headers beside (or over) the required ones. */
export function cloudEventHeaders(type: string, attributes: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': randomUUID(),
    'ce-source': 'https://127.0.0.1:6443',
    'ce-type': type,
    ...Object.fromEntries(Object.entries(attributes).map(([key, value]) => [`ce-${key}`, value])),
  };
}

/** The attributes the ApiServerSource adapter gives an event about `object`. */
export function apiServerAttributes(object: Readonly<Record<string, unknown>>): Record<string, string> {
  const metadata = (object['metadata'] ?? {}) as { name?: string; namespace?: string };
  const apiVersion = String(object['apiVersion'] ?? '');
  const kind = String(object['kind'] ?? '');
  return {
    subject: `/apis/${apiVersion}/namespaces/${metadata.namespace ?? ''}/${kind.toLowerCase()}s/${metadata.name ?? ''}`,
    kind,
    name: metadata.name ?? '',
    namespace: metadata.namespace ?? '',
    apiversion: apiVersion,
  };
}

/** POSTs a binary-mode CloudEvent (see cloudEventHeaders). */
export async function postCloudEvent(url: string, type: string, body: string, attributes: Readonly<Record<string, string>> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: cloudEventHeaders(type, attributes), body });
}

/** POSTs a CloudEvent in binary mode, exactly as the ApiServerSource adapter does. */
export async function postBinaryEvent(url: string, event: ApiServerEvent): Promise<Response> {
  const body = typeof event.object === 'string' ? event.object : JSON.stringify(event.object);
  const object = typeof event.object === 'string' ? {} : event.object;
  return postCloudEvent(url, event.type, body, { ...apiServerAttributes(object), ...event.extensions });
}

/** The sum of a running function's /metrics samples whose line matches `pattern`. */
export async function metricTotal(url: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => !line.startsWith('#') && pattern.test(line))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}
