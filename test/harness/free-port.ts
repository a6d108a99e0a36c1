import { createServer } from 'node:net';

/**
 * A port the OS just handed out on 127.0.0.1. Another process can take it before ours binds it,
 * so callers that pass it to a child process retry on "address already in use".
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address from port-0 listen');
  return address.port;
}
