/**
 * faas-js-runtime parses request bodies itself, before the function sees them: Fastify's JSON
 * parser (secure-json-parse) for `application/json`, the runtime's copy of the CloudEvents SDK
 * (v8) for `application/cloudevents+json`, four times over. Neither bounds the shape of what it
 * parses, and the SDK's batch mode hands the runtime an array it cannot validate (answered
 * 500). Both copies are private to the runtime, so the adjustment is made on them, at start-up,
 * through the same module resolution the runtime uses; nothing else in the process uses them.
 */
import { createRequire } from 'node:module';
import { jsonShapeRefusal } from './json-shape.js';

const BOUNDED = Symbol.for('build-watcher.bounded-json');

/** An error Fastify answers with its `statusCode`, as a one-line JSON body. */
function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}

interface JsonParserModule { parse: ((text: unknown, ...options: unknown[]) => unknown) & { [BOUNDED]?: true } }

interface RuntimeMessage { readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>; readonly body?: unknown }

interface SdkHttpBinding { isEvent: ((message: RuntimeMessage) => boolean) & { [BOUNDED]?: true }; toEvent: (message: RuntimeMessage) => unknown }

const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json';

/** Why the runtime's SDK must not parse this request, or undefined. */
function refusal(message: RuntimeMessage): Error | undefined {
  const contentType = message.headers['content-type'];
  if (typeof contentType === 'string' && contentType.toLowerCase().startsWith(BATCH_CONTENT_TYPE)) {
    return httpError(400, `batch mode (${BATCH_CONTENT_TYPE}) is not supported: send one CloudEvent per request`);
  }
  if (typeof message.body !== 'string') return undefined;
  const shape = jsonShapeRefusal(message.body);
  return shape === undefined ? undefined : httpError(400, shape.message);
}

/** Fastify's JSON parser refuses unbounded shapes before parsing; it answers them 400. */
function boundFastifyJson(runtime: string): void {
  const fastify = createRequire(runtime).resolve('fastify');
  const parser = createRequire(fastify)('secure-json-parse') as JsonParserModule;
  const parse = parser.parse;
  if (parse[BOUNDED]) return;
  const bounded = Object.assign(
    function boundedParse(this: unknown, text: unknown, ...options: unknown[]): unknown {
      const shape = typeof text === 'string' ? jsonShapeRefusal(text) : Buffer.isBuffer(text) ? jsonShapeRefusal(text.toString('latin1')) : undefined;
      if (shape !== undefined) throw shape;
      return parse.call(this, text, ...options);
    },
    { [BOUNDED]: true as const },
  );
  parser.parse = bounded;
}

/** How the SDK itself tells a CloudEvent from a plain request: by headers alone. */
function looksLikeCloudEvent(message: RuntimeMessage): boolean {
  const contentType = message.headers['content-type'];
  return (typeof contentType === 'string' && contentType.toLowerCase().startsWith('application/cloudevents')) || message.headers['ce-id'] !== undefined;
}

/**
 * The runtime asks `isEvent`, which parses the whole body, then `toEvent`, which parses it again (each twice
 * in structured mode). `isEvent` now decides by headers, as the SDK's own mode detection does, so only `toEvent`
 * parses, after the shape check; what it cannot read is answered 400 with the reason rather than 500.
 */
function boundSdkParsing(runtime: string): void {
  const binding = (createRequire(runtime)('cloudevents') as { HTTP?: SdkHttpBinding }).HTTP;
  if (binding === undefined || binding.isEvent[BOUNDED]) return;
  const { toEvent } = binding;
  binding.isEvent = Object.assign(looksLikeCloudEvent, { [BOUNDED]: true as const });
  binding.toEvent = (message: RuntimeMessage) => {
    const refused = refusal(message);
    if (refused !== undefined) throw refused;
    // The SDK builds its ValidationErrors (two or more per event) before it knows whether it will throw them, each
    // capturing a stack trace: a tenth of the CPU an event costs (`npm run bench`'s profile). Nothing else runs
    // while toEvent does (it is synchronous), and its errors are answered by message only, so need no stack.

    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return toEvent(message);
    } catch (error) {
      if (error instanceof Error && 'statusCode' in error) throw error;
      throw httpError(400, `unreadable CloudEvent: ${error instanceof SyntaxError ? 'malformed JSON' : String(error instanceof Error ? error.message : error).split('\n')[0]}`);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
  };
}

export function boundRuntimeJsonParsing(): void {
  let runtime: string;
  try {
    runtime = createRequire(import.meta.url).resolve('faas-js-runtime');
  } catch {
    return; // Not served by faas-js-runtime (e.g. the command line): nothing to adjust.
  }
  boundFastifyJson(runtime);
  boundSdkParsing(runtime);
}
