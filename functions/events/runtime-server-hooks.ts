/**
 * Two hooks on the Fastify server faas-js-runtime 4.0.1 builds, added when Fastify announces the server on its
 * `fastify.initialization` diagnostics channel (before the runtime adds its routes, so they apply to every route, the 404
 * handler too) and nowhere else:
 * - The request gate: the runtime parses `application/x-www-form-urlencoded` bodies with `body += data` and no limit, so
 *   FUNC_BODY_LIMIT never applied to them (a 256 MiB form body killed the process), and reads every other type as a buffer.
 *   A request is answered from its headers alone (functions/events/envelope.ts) unless it is one the function can read: no
 *   other body reaches a parser.
 * - The runtime's metrics time each invocation from a `preHandler` hook and stop the timer in `onResponse`; a request
 *   refused before `preHandler` (a gate refusal, malformed JSON, a body over the limit) has no timer, and the runtime logged an
 *   error-level `TypeError: req.execTimer is not a function` stack for each. Such a request starts with a timer that does nothing.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { requestRefusal } from './envelope.js';
import { stacklessHttpError } from './http-error.js';

type Done = (error?: Error) => void;
interface GateRequest { headers: Readonly<Record<string, string | readonly string[] | undefined>>; execTimer?: unknown }
interface GateReply { header(name: string, value: string): unknown }
interface FastifyLike { addHook(name: 'onRequest', hook: (request: GateRequest, reply: GateReply, done: Done) => void): unknown }

const notTimed = (): void => undefined;

function gate(request: GateRequest, reply: GateReply, done: Done): void {
  // The runtime's own preHandler replaces it for every request that reaches the function.
  request.execTimer = notTimed;
  const refusal = requestRefusal(request.headers);
  if (refusal === undefined) return done();
  // The body is never read: close the connection rather than drain what the sender still writes.
  reply.header('connection', 'close');
  done(stacklessHttpError(refusal.status, refusal.reason));
}

function onServer(message: unknown): void {
  (message as { fastify: FastifyLike }).fastify.addHook('onRequest', gate);
}

export function gateRuntimeRequests(): void {
  // A channel keeps every subscription, duplicates too: at most one of ours.
  unsubscribe('fastify.initialization', onServer);
  subscribe('fastify.initialization', onServer);
}
