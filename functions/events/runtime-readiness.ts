/**
 * Readiness as faas-js-runtime 4.0.1 means it (503 while overload-protection sees the event loop lag more than 42 ms, so a
 * busy pod stops getting new requests until it catches up), without its bug: the runtime hands Fastify's reply to
 * overload-protection's handler for Node's response, which calls `res.setHeader`, throws, and turns every "not ready" into
 * an error-level stack trace. The check is the runtime's own dependency, with the runtime's thresholds.
 */
import { createRequire } from 'node:module';

interface OverloadCheck { readonly overload: boolean }

type Protection = (framework: 'http', options: Readonly<Record<string, unknown>>) => OverloadCheck;

export interface ReadinessReply {
  code(status: number): ReadinessReply;
  header(name: string, value: string): ReadinessReply;
  send(body: string): unknown;
}

export function readinessProbe(): (request: unknown, reply: ReadinessReply) => void {
  const runtime = createRequire(import.meta.url).resolve('faas-js-runtime');
  const protection = createRequire(runtime)('overload-protection') as Protection;
  const check = protection('http', { production: true, maxHeapUsedBytes: 0, maxRssBytes: 0, errorPropagationMode: false });
  return (_request, reply) => {
    reply.header('content-type', 'text/plain; charset=utf-8');
    if (check.overload) reply.code(503).header('retry-after', '1').send('Service Unavailable');
    else reply.send('OK');
  };
}
