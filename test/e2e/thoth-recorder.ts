/**
 * One replica's road to Thoth: an HTTP relay on 127.0.0.1 (port 0) in front of the Thoth stand-in
 * that records which Builds this replica sent (by the build log's `built <name>` line, as the
 * end-to-end tests write logs), and can hold Thoth's next answer until released. With one per
 * replica, a test knows exactly what a replica had sent to Thoth before it was killed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeHold, type Hold } from '../harness/api-front.js';

export interface ThothRecorder {
  readonly url: string;
  /** Builds whose submission reached this relay, in order of arrival (before Thoth answered). */
  readonly sent: readonly string[];
  /** Thoth's next answer waits here, whole, until released; `caught` once it has arrived. Released first: nothing is held. */
  holdNextAnswer(): Hold;
  close(): Promise<void>;
}

/** The Build a submission body is for, from its build log's `built <name>` line. */
export function builtName(log: string | null | undefined): string | undefined {
  return /^built (\S+)$/m.exec(log ?? '')?.[1];
}

export async function startThothRecorder(thothUrl: string): Promise<ThothRecorder> {
  const sent: string[] = [];
  const open = new Set<http.ServerResponse>();
  let holding: ReturnType<typeof makeHold> | undefined;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const name = builtName(bodyLog(body));
      if (name !== undefined) sent.push(name);
      const outgoing = http.request(new URL(request.url ?? '/', thothUrl), { method: request.method, headers: request.headers }, (answer) => {
        const answered: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => answered.push(chunk));
        answer.on('end', () => {
          const send = (): void => {
            open.delete(response);
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            response.end(Buffer.concat(answered));
          };
          const hold = name === undefined ? undefined : holding;
          if (hold === undefined) return send();
          holding = undefined;
          open.add(response);
          hold.caught();
          void hold.released.then(send);
        });
      });
      outgoing.on('error', () => request.socket.destroy());
      outgoing.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get sent() {
      return [...sent];
    },
    holdNextAnswer() {
      const hold = makeHold();
      holding = hold;
      return {
        caught: hold.hold.caught,
        release() {
          // Released before it caught anything: the next answer is not held.
          if (holding === hold) holding = undefined;
          hold.hold.release();
        },
      };
    },
    async close() {
      for (const response of open) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function bodyLog(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { build_log?: { log?: unknown } };
    return typeof parsed.build_log?.log === 'string' ? parsed.build_log.log : undefined;
  } catch {
    return undefined;
  }
}
