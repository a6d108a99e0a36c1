/**
 * A private network namespace (`unshare --net`; for a user other than root with a user namespace
 * too, `unshare -rn`, so no privilege is needed) with its own loopback, for the Knative Eventing components. They bind fixed ports on every
 * interface (the InMemoryChannel dispatcher hard-codes :8080, probes and pprof have defaults),
 * which would clash with each other, with the receive adapter's :8080 and with other test runs on
 * the machine. Inside, ports are fixed and nobody else's; the bridge (netns-bridge.ts) is the only
 * way in and out, through Unix sockets in `dir`. The machine's own network is never touched.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BridgeSpec } from './netns-bridge.js';
import { startProcess } from './processes.js';
import type { ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

const BRIDGE = fileURLToPath(new URL('./netns-bridge.ts', import.meta.url));

/** Fixed ports on the namespace's loopback. */
export const NETNS_PORTS = {
  apiServer: 6443,
  clusterProxy: 3128,
  ingress: 8081,
  filter: 8082,
  /** Hard-coded by the dispatcher (pkg/reconciler/inmemorychannel/dispatcher/controller.go). */
  dispatcher: 8080,
} as const;

export interface EventingNetns {
  /** Unix sockets, outside → inside. */
  readonly sockets: { ingress: string; filter: string; dispatcher: string };
  /** Unix sockets the harness must serve, inside → outside. */
  readonly outboundSockets: { apiServer: string; clusterProxy: string };
  /** Starts a binary inside the namespace. */
  start(options: { name: string; command: string; args: readonly string[]; env: NodeJS.ProcessEnv; logPath: string }): ManagedProcess;
  readonly bridge: ManagedProcess;
}

export async function startEventingNetns(dir: string, logDir: string, timeoutMs: number): Promise<EventingNetns> {
  const sockets = { ingress: join(dir, 'ingress.sock'), filter: join(dir, 'filter.sock'), dispatcher: join(dir, 'dispatcher.sock') };
  const outboundSockets = { apiServer: join(dir, 'apiserver.sock'), clusterProxy: join(dir, 'proxy.sock') };
  const readyFile = join(dir, 'bridge.pid');
  const spec: BridgeSpec = {
    readyFile,
    outbound: [
      { port: NETNS_PORTS.apiServer, socketPath: outboundSockets.apiServer },
      { port: NETNS_PORTS.clusterProxy, socketPath: outboundSockets.clusterProxy },
    ],
    inbound: [
      { socketPath: sockets.ingress, port: NETNS_PORTS.ingress },
      { socketPath: sockets.filter, port: NETNS_PORTS.filter },
      { socketPath: sockets.dispatcher, port: NETNS_PORTS.dispatcher },
    ],
  };
  // root needs no user namespace (and some hosts forbid unprivileged ones to everyone else).
  const asRoot = process.getuid?.() === 0;
  const userns = asRoot ? [] : ['--user'];
  const bridge = startProcess({
    name: 'netns-bridge',
    command: 'unshare',
    args: [
      ...(asRoot ? [] : ['--user', '--map-root-user']),
      '--net',
      'bash',
      '-c',
      'ip link set lo up && exec "$@"',
      'netns',
      process.execPath,
      '--import',
      import.meta.resolve('tsx'),
      BRIDGE,
      JSON.stringify(spec),
    ],
    logPath: join(logDir, 'netns-bridge.log'),
  });
  const pid = await waitFor(
    async () => {
      if (!bridge.running()) throw new Error(`the network namespace could not be set up (unshare -rn, ip):\n${bridge.logTail()}`);
      const text = await readFile(readyFile, 'utf8').catch(() => '');
      return /^\d+$/.test(text) ? text : undefined;
    },
    { what: 'the eventing network namespace', timeoutMs, onTimeout: () => bridge.logTail() },
  );
  return {
    sockets,
    outboundSockets,
    bridge,
    start: (options) =>
      startProcess({
        ...options,
        command: 'nsenter',
        args: ['--target', pid, ...userns, '--net', '--preserve-credentials', options.command, ...options.args],
      }),
  };
}

/** True once something answers HTTP behind the Unix socket (any status: it listens). */
export function answersHttp(socketPath: string): Promise<true | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/healthz', timeout: 2_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
