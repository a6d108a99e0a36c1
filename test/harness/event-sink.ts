import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { waitFor } from './wait.js';

/** A CloudEvent as it arrived over HTTP (binary mode: attributes in `ce-*` headers). */
export interface ReceivedEvent {
  /** `ce-*` headers without the prefix (`type`, `source`, `subject`, `kind`, `name`, ...). */
  attributes: Record<string, string>;
  contentType: string | undefined;
  body: string;
  headers: IncomingHttpHeaders;
}

export interface EventSink {
  /** e.g. `http://127.0.0.1:40123/` */
  readonly url: string;
  readonly received: readonly ReceivedEvent[];
  /** The first event (received before or after the call) that matches, within the deadline. */
  waitForEvent(match: (event: ReceivedEvent) => boolean, timeoutMs?: number): Promise<ReceivedEvent>;
  /** The next event is recorded on arrival, its answer held until `release()` (or `close()`): a sender stuck mid-send. */
  holdNext(): { release(): void };
  close(): Promise<void>;
}

/** A node:http CloudEvents receiver on 127.0.0.1, port 0, that answers `status` (default 202). */
export async function startEventSink(options: { status?: number } = {}): Promise<EventSink> {
  const received: ReceivedEvent[] = [];
  const holds: Promise<void>[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const attributes: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.headers)) {
        if (key.startsWith('ce-') && typeof value === 'string') attributes[key.slice(3)] = value;
      }
      received.push({ attributes, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      const held = holds.shift();
      if (held === undefined) res.writeHead(options.status ?? 202).end();
      else void held.then(() => res.writeHead(options.status ?? 202).end());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('event sink has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    received,
    waitForEvent: (match, timeoutMs = 30_000) =>
      waitFor(async () => received.find(match), { what: 'a matching CloudEvent at the sink', timeoutMs, intervalMs: 50 }),
    holdNext() {
      let release = (): void => undefined;
      holds.push(new Promise<void>((resolve) => (release = resolve)));
      return { release: () => release() };
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
