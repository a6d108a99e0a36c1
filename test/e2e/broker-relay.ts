/**
 * K_SINK for a function that runs outside the harness's network namespace: a relay on 127.0.0.1 that sends every POST on
 * to the Broker's ingress through the cluster proxy, answering with the ingress's status, as the sweep component's
 * SinkBinding would point the function straight at it.
 */
import { createServer } from 'node:http';
import { postViaProxy } from '../harness/cluster-proxy.js';
import type { Eventing } from '../harness/eventing.js';
import { BROKER_URL } from './default-install.js';

export async function relayToBroker(eventing: Eventing): Promise<{ readonly url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string' && (key.startsWith('ce-') || key === 'content-type')) headers[key] = value;
      postViaProxy(eventing.proxyUrl, BROKER_URL, headers, Buffer.concat(chunks).toString('utf8'))
        .then((answer) => res.writeHead(answer.status).end(), () => res.writeHead(502).end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
