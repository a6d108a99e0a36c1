/** A closed-loop HTTP load generator: `concurrency` clients, keep-alive, fixed request count. */
import http from 'node:http';

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly statuses: Readonly<Record<number, number>>;
}

export interface LoadRequest {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

export async function runLoad(url: string, total: number, concurrency: number, next: (i: number) => LoadRequest): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let issued = 0;
  const one = (request: LoadRequest) =>
    new Promise<void>((resolve, reject) => {
      const started = process.hrtime.bigint();
      const body = Buffer.from(request.body);
      const req = http.request(
        { host: target.hostname, port: target.port, path: '/', method: 'POST', agent, headers: { ...request.headers, 'content-length': String(body.length) } },
        (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
            statuses[res.statusCode ?? 0] = (statuses[res.statusCode ?? 0] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < total) await one(next(issued++));
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return { requests: total, seconds, perSecond: total / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), statuses };
}
