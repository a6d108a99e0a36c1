/**
 * STAND-IN for the address in front of pods: an HTTP relay on 127.0.0.1 (port 0) that hands
 * each request to the next upstream in turn, as Knative's activator and queue-proxy balance
 * requests (not connections) over a revision's pods. With no upstream, or when the upstream
 * dies mid-request (kill -9), the client's connection is reset, as it is when a pod goes away.
 * In front of Thoth it can also withhold answers: Thoth accepted, the caller never heard so; or
 * hold one until the test releases it: Thoth accepted, the caller hears so when the test says.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeHold, type Hold } from '../harness/api-front.js';

export interface HttpRelay {
  readonly url: string;
  /** Where requests go, in turn; none: every request's connection is reset. */
  setUpstreams(urls: readonly string[]): void;
  /** The next `count` answers with `status` reach the relay but never the caller (its connection hangs). */
  withholdNext(count: number, status: number): void;
  /** Answers withheld so far. */
  withheld(): number;
  /** The next answer with `status` reaches the relay and waits there, whole, until released. */
  holdNext(status: number): Hold;
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
  let holding: (ReturnType<typeof makeHold> & { readonly status: number }) | undefined;
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
      const hold = holding?.status === answer.statusCode ? holding : undefined;
      if (hold !== undefined) {
        holding = undefined;
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          hold.caught();
          held.add(response);
          void hold.released.then(() => {
            held.delete(response);
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            response.end(Buffer.concat(chunks));
          });
        });
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
    holdNext(status) {
      const hold = { ...makeHold(), status };
      holding = hold;
      return {
        caught: hold.hold.caught,
        release() {
          if (holding === hold) holding = undefined;
          hold.hold.release();
        },
      };
    },
    requests: () => received,
    async close() {
      for (const response of held) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
