/**
 * Runs inside the private network namespace of the Knative Eventing components (see
 * eventing-netns.ts) and is its only way in or out. Unix sockets live on the file system, which
 * both namespaces share, so each crossing is a Unix socket:
 * - outbound: a TCP port on the namespace's loopback forwards to a Unix socket that the harness
 *   serves outside (the API server, the cluster-DNS proxy);
 * - inbound: a Unix socket forwards to a TCP port on the namespace's loopback (broker ingress,
 *   filter, InMemoryChannel dispatcher).
 * Writes its pid to `readyFile` once everything listens; the harness enters the namespace by it.
 *
 * Usage: node --import tsx netns-bridge.ts '<BridgeSpec as JSON>'
 */
import { writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { NetConnectOpts, Socket } from 'node:net';

export interface BridgeSpec {
  readyFile: string;
  outbound: { port: number; socketPath: string }[];
  inbound: { socketPath: string; port: number }[];
}

function splice(from: Socket, to: NetConnectOpts): void {
  const upstream = createConnection(to);
  from.pipe(upstream).pipe(from);
  const close = (): void => {
    from.destroy();
    upstream.destroy();
  };
  from.on('error', close);
  upstream.on('error', close);
  from.on('close', close);
  upstream.on('close', close);
}

async function listen(server: ReturnType<typeof createServer>, where: { port: number; host: string } | { path: string }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, resolve);
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as BridgeSpec;
  for (const { port, socketPath } of spec.outbound) {
    await listen(createServer((socket) => splice(socket, { path: socketPath })), { port, host: '127.0.0.1' });
  }
  for (const { socketPath, port } of spec.inbound) {
    await listen(createServer((socket) => splice(socket, { port, host: '127.0.0.1' })), { path: socketPath });
  }
  writeFileSync(spec.readyFile, String(process.pid));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
