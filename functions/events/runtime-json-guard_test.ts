import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { boundRuntimeJsonParsing } from './runtime-json-guard.js';

interface Binding {
  toEvent(message: { headers: Record<string, string>; body: unknown }): unknown;
}

/** The runtime's private copy of the CloudEvents SDK, the one the adjustment is made on. */
function runtimeBinding(): Binding {
  const runtime = createRequire(import.meta.url).resolve('faas-js-runtime');
  return (createRequire(runtime)('cloudevents') as { HTTP: Binding }).HTTP;
}

const headers = { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't' };

describe("the runtime's CloudEvent parsing, adjusted", () => {
  boundRuntimeJsonParsing();
  const binding = runtimeBinding();

  it('parses a good event and leaves the stack trace limit as it was', () => {
    const limit = Error.stackTraceLimit;
    const event = binding.toEvent({ headers, body: '{"a":1}' }) as { type: string; data: unknown };
    assert.equal(event.type, 't');
    assert.deepEqual(event.data, { a: 1 });
    assert.equal(Error.stackTraceLimit, limit);
  });

  it('refuses a bad one with a one-line 400, and still restores the limit', () => {
    const limit = Error.stackTraceLimit;
    assert.throws(
      () => binding.toEvent({ headers, body: '{"a":' }),
      (error: unknown) => error instanceof Error && (error as Error & { statusCode?: number }).statusCode === 400 && error.message === 'unreadable CloudEvent: malformed JSON' && !error.message.includes('\n'),
    );
    assert.equal(Error.stackTraceLimit, limit);
    assert.ok(new Error('after').stack?.includes('runtime-json-guard_test'), 'errors elsewhere keep their stacks');
  });
});
