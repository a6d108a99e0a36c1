/**
 * faas-js-runtime parses request bodies itself, before the function sees them: Fastify's JSON
 * parser (secure-json-parse) for `application/json`, the runtime's copy of the CloudEvents SDK
 * (v8) for `application/cloudevents+json`, four times over. Neither bounds the shape of what it
 * parses, nor checks a structured envelope as CloudEvents 1.0 does. Both copies are private to
 * the runtime, so the adjustment is made on them, at start-up, through the same module
 * resolution the runtime uses; nothing else in the process uses them. (What never reaches a
 * parser, batch mode among it, is decided in functions/events/runtime-server-hooks.ts.)
 */
import { createRequire } from 'node:module';
import { mediaType, STRUCTURED_TYPE, structuredRefusal } from './envelope.js';
import { stacklessHttpError } from './http-error.js';
import { jsonShapeRefusal } from './json-shape.js';

const BOUNDED = Symbol.for('build-watcher.bounded-json');

interface JsonParserModule { parse: ((text: unknown, ...options: unknown[]) => unknown) & { [BOUNDED]?: true } }

interface RuntimeMessage { readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>; readonly body?: unknown }

interface SdkHttpBinding { isEvent: ((message: RuntimeMessage) => boolean) & { [BOUNDED]?: true }; toEvent: (message: RuntimeMessage) => unknown }

/**
 * A structured-mode body, parsed once after its shape is checked, and its envelope checked (functions/events/envelope.ts);
 * the SDK reads the parsed object as it would the text. Binary-mode bodies come parsed by Fastify's (bounded) JSON parser,
 * their envelope checked from the headers before the body was read.
 */
function checkedMessage(message: RuntimeMessage): RuntimeMessage {
  if (typeof message.body !== 'string') return message;
  const shape = jsonShapeRefusal(message.body);
  if (shape !== undefined) throw stacklessHttpError(400, shape.message);
  const contentType = message.headers['content-type'];
  if (mediaType(typeof contentType === 'string' ? contentType : undefined) !== STRUCTURED_TYPE) return message;
  let body: unknown;
  try {
    body = JSON.parse(message.body);
  } catch {
    throw stacklessHttpError(400, 'unreadable CloudEvent: malformed JSON');
  }
  const envelope = structuredRefusal(body);
  if (envelope !== undefined) throw stacklessHttpError(400, envelope);
  return { headers: message.headers, body };
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
      if (shape !== undefined) throw stacklessHttpError(400, shape.message);
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
    const checked = checkedMessage(message);
    // The SDK builds its ValidationErrors (two or more per event) before it knows whether it will throw them, each
    // capturing a stack trace: a tenth of the CPU an event costs (`npm run bench`'s profile). Nothing else runs
    // while toEvent does (it is synchronous), and its errors are answered by message only, so need no stack.

    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return toEvent(checked);
    } catch (error) {
      if (error instanceof Error && 'statusCode' in error) throw error;
      throw stacklessHttpError(400, `unreadable CloudEvent: ${error instanceof SyntaxError ? 'malformed JSON' : String(error instanceof Error ? error.message : error).split('\n')[0]}`);
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
