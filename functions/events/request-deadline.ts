/**
 * Fastify sets Node's `server.requestTimeout` to 0, and faas-js-runtime offers no way to set it, so a request whose body stalls
 * or drips holds its connection, its parser and one of the pod's `containerConcurrency` slots for ever (seen still open at 330
 * s). Every request must have arrived whole within REQUEST_BODY_DEADLINE_MS of its headers, or it is answered 408 and its
 * connection closed. Node publishes every request on the `http.server.request.start` diagnostics channel, which reaches the
 * runtime's server without changing the runtime.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The Broker and the ApiServerSource send a whole event at once, from memory, and a body within FUNC_BODY_LIMIT crosses a cluster
 * network in milliseconds: 15 s is slack for a busy node, not for a sender that stops.
 */
export const REQUEST_BODY_DEADLINE_MS = 15_000;

interface RequestStart { readonly request: IncomingMessage; readonly response: ServerResponse; readonly socket: Socket }

const TIMEOUT_REASON = `request body not received within ${REQUEST_BODY_DEADLINE_MS / 1000} s\n`;
const TIMEOUT_ANSWER = ['HTTP/1.1 408 Request Timeout', 'Content-Type: text/plain; charset=utf-8',
  `Content-Length: ${Buffer.byteLength(TIMEOUT_REASON)}`, 'Connection: close', '', TIMEOUT_REASON].join('\r\n');

function onRequestStart(message: unknown): void {
  const { request, response, socket } = message as RequestStart;
  const timer = setTimeout(() => {
    if (request.complete || socket.destroyed) return;
    // An answer already on its way (e.g. 413 for a body over the limit): only close.
    if (response.headersSent) {
      socket.destroy();
      return;
    }
    socket.end(TIMEOUT_ANSWER, () => socket.destroy());
  }, REQUEST_BODY_DEADLINE_MS);
  timer.unref();
  response.once('close', () => clearTimeout(timer));
}

export function answerSlowRequestsWith408(): void {
  // A channel keeps every subscription, duplicates too: at most one of ours.
  unsubscribe('http.server.request.start', onRequestStart);
  subscribe('http.server.request.start', onRequestStart);
}
