/**
 * A TCP relay on 127.0.0.1 (port 0) in front of the API server, so a test can cut every
 * connection through it (a watch the server side closes) and refuse new ones for a while (an
 * outage), without touching the API server itself. TLS passes through untouched.
 */
import net from 'node:net';

export interface TcpProxy {
  /** e.g. `https://127.0.0.1:40123` when the upstream is https. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** Destroys every open connection. */
  sever(): void;
  /** New connections are closed at once until resume(). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(upstream: string): Promise<TcpProxy> {
  const target = new URL(upstream);
  const sockets = new Set<net.Socket>();
  let paused = false;
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted += 1;
    if (paused) {
      client.destroy();
      return;
    }
    const remote = net.connect(Number(target.port), target.hostname);
    for (const socket of [client, remote]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        remote.destroy();
      });
    }
    client.pipe(remote);
    remote.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
  const sever = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `${target.protocol}//127.0.0.1:${address.port}`,
    connections: () => accepted,
    sever,
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
    },
    async close() {
      sever();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
