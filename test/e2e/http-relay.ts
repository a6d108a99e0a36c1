/**
 * STAND-IN for the address in front of pods: an HTTP relay on 127.0.0.1 (port 0) that hands
 * each request to the next upstream in turn, as Knative's activator and queue-proxy balance
 * requests (not connections) over a revision's pods. With no upstream, or when the upstream
 * dies mid-request (kill -9), the client's connection is reset, as it is when a pod goes away.
 * In front of Thoth it can also withhold answers: Thoth accepted, the caller never heard so.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpRelay {
  readonly url: string;
  /** Where requests go, in turn; none: every request's connection is reset. */
  setUpstreams(urls: readonly string[]): void;
  /** The next `count` answers with `status` reach the relay but never the caller (its connection hangs). */
  withholdNext(count: number, status: number): void;
  /** Answers withheld so far. */
  withheld(): number;
  /** Requests received so far, counted on arrival. */
  requests(): number;
  close(): Promise<void>;
}

export async function startHttpRelay(upstreams: readonly string[] = []): Promise<HttpRelay> {
  let targets = [...upstreams];
  let turn = 0;
  let received = 0;
  const withholding = { count: 0, status: 0, done: 0 };
  const held = new Set<http.ServerResponse>();
  const server = http.createServer((request, response) => {
    received += 1;
    const target = targets[turn++ % Math.max(targets.length, 1)];
    if (target === undefined) {
      request.socket.destroy();
      return;
    }
    const outgoing = http.request(new URL(request.url ?? '/', target), { method: request.method, headers: request.headers }, (answer) => {
      if (withholding.count > 0 && answer.statusCode === withholding.status) {
        withholding.count -= 1;
        withholding.done += 1;
        answer.resume();
        held.add(response);
        return;
      }
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
      answer.on('error', () => response.destroy());
    });
    outgoing.on('error', () => request.socket.destroy());
    request.pipe(outgoing);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setUpstreams(urls) {
      targets = [...urls];
    },
    withholdNext(count, status) {
      withholding.count = count;
      withholding.status = status;
    },
    withheld: () => withholding.done,
    requests: () => received,
    async close() {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
