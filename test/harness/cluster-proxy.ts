import { Agent, createServer, request } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Where a cluster-DNS host's traffic goes on this machine: a loopback port or a Unix socket. */
export type ProxyTarget = { port: number } | { socketPath: string };

/** One request the proxy forwarded: one hop of an event through the cluster. */
export interface ProxiedRequest {
  readonly host: string;
  readonly path: string;
  /** CloudEvent attributes from the `ce-*` headers (binary mode), without the prefix. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The answer's status; 0 while pending or when the connection broke. */
  status: number;
  /** `performance.now()` when the request arrived here: when the client sent it. */
  readonly sentAt: number;
  /** `performance.now()` when the answer's head arrived here; 0 while pending or when the connection broke. */
  answeredAt: number;
}

export interface ClusterProxy {
  /** Every request forwarded so far, in arrival order (the demo prints an event's path from it). */
  readonly requests: readonly ProxiedRequest[];
  /** `http://127.0.0.1:<port>`, for HTTP_PROXY of processes outside the eventing namespace. */
  readonly url: string;
  /** Sends requests for `host` (no port) to `target` from now on. */
  route(host: string, target: ProxyTarget): void;
  /** Sends every host for which `match` holds to `target` (e.g. `*-kn-channel.<ns>.svc.cluster.local`). */
  routeMatching(match: (host: string) => boolean, target: ProxyTarget): void;
  /** Also listen on a Unix socket (the eventing namespace's way to this proxy). */
  listenUnix(socketPath: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A plain-HTTP forward proxy on 127.0.0.1 that stands in for cluster DNS and Service routing:
 * Go's HTTP clients in the eventing components send `http://<svc>.<ns>.svc.cluster.local/...`
 * here through HTTP_PROXY (Go never proxies loopback addresses, so the API server and loopback
 * URLs stay direct). The Host header is kept: the dispatcher routes by it. A host with no route,
 * or a target that refuses the connection, is a broken connection to the client, as an
 * unreachable Service is in a cluster, not an HTTP answer.
 */
export async function startClusterProxy(): Promise<ClusterProxy> {
  const exact = new Map<string, ProxyTarget>();
  const requests: ProxiedRequest[] = [];
  const patterns: { match: (host: string) => boolean; target: ProxyTarget }[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const targetFor = (host: string): ProxyTarget | undefined =>
    exact.get(host) ?? patterns.find((p) => p.match(host))?.target;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute URL expected: this is a forward proxy');
      return;
    }
    const target = url.protocol === 'http:' ? targetFor(url.hostname) : undefined;
    if (target === undefined) {
      req.socket.destroy();
      return;
    }
    const attributes: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (key.startsWith('ce-') && typeof value === 'string') attributes[key.slice(3)] = value;
    }
    const record: ProxiedRequest = { host: url.hostname, path: url.pathname, attributes, status: 0, sentAt: performance.now(), answeredAt: 0 };
    requests.push(record);
    const upstream = request(
      {
        ...('port' in target ? { host: '127.0.0.1', port: target.port } : { socketPath: target.socketPath }),
        agent,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers: { ...req.headers, host: url.host },
      },
      (answer) => {
        record.status = answer.statusCode ?? 0;
        record.answeredAt = performance.now();
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  };

  const servers: Server[] = [];
  const open = async (where: { port: number; host: string } | { path: string }): Promise<Server> => {
    const server = createServer(handle);
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(where, resolve);
    });
    servers.push(server);
    return server;
  };
  const address = (await open({ port: 0, host: '127.0.0.1' })).address();
  if (address === null || typeof address === 'string') throw new Error('cluster proxy has no TCP address');

  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    route: (host, target) => void exact.set(host, target),
    routeMatching: (match, target) => void patterns.push({ match, target }),
    listenUnix: async (socketPath) => void (await open({ path: socketPath })),
    async close() {
      agent.destroy();
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}

/**
 * POSTs through the proxy to a cluster-DNS URL (fetch has no proxy support); answers the status
 * and body. For tests that send to the Broker as an in-cluster client would.
 */
export function postViaProxy(proxyUrl: string, url: string, headers: Readonly<Record<string, string>>, body: string): Promise<{ status: number; body: string }> {
  const proxy = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: proxy.hostname, port: Number(proxy.port), method: 'POST', path: url, headers: { ...headers, host: new URL(url).host } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
