/**
 * faas-js-runtime 4.0.1 checks incoming CloudEvents with its own copy of the SDK (v8) and hands
 * the SDK's ValidationError to Fastify without a status, so a CloudEvent that lacks a required
 * attribute (source, type, id) is answered 500 — which a Broker retries a dozen times before
 * dead-lettering it, and which says "our fault" about the sender's mistake. Fastify answers with
 * an error's `statusCode` when it has one, so the runtime's ValidationError is given 400.
 */
import { createRequire } from 'node:module';

export function answerInvalidCloudEventsWith400(): void {
  try {
    const runtime = createRequire(import.meta.url).resolve('faas-js-runtime');
    const sdk = createRequire(runtime)('cloudevents') as { ValidationError?: { prototype: object } };
    const prototype = sdk.ValidationError?.prototype;
    if (prototype !== undefined && !Object.hasOwn(prototype, 'statusCode')) {
      Object.defineProperty(prototype, 'statusCode', { value: 400 });
    }
  } catch {
    // Not served by faas-js-runtime (e.g. the command line): nothing to adjust.
  }
}
