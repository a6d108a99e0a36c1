/**
 * Three hooks on the Fastify server faas-js-runtime 4.0.1 builds, added when Fastify announces the server on its
 * `fastify.initialization` diagnostics channel (before the runtime adds its routes, so they apply to every route, the 404
 * handler too) and nowhere else:
 * - The request gate: the runtime parses `application/x-www-form-urlencoded` bodies with `body += data` and no limit, so
 *   FUNC_BODY_LIMIT never applied to them (a 256 MiB form body killed the process), and reads every other type as a buffer.
 *   A request is answered from its headers alone (functions/events/envelope.ts) unless it is one the function can read: no
 *   other body reaches a parser.
 * - The runtime's metrics time each invocation from a `preHandler` hook and stop the timer in `onResponse`; a request
 *   refused before `preHandler` (a gate refusal, malformed JSON, a body over the limit) has no timer, and the runtime logged an
 *   error-level `TypeError: req.execTimer is not a function` stack for each. Such a request starts with a timer that does nothing.
 * - Fastify's default error handler logs a refused request (4xx) with the error's stack. A refusal is the sender's mistake: it
 *   is logged as one info line saying why, and answered as Fastify would (`{statusCode, error, message}`). 5xx keep their stack.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { STATUS_CODES } from 'node:http';
import { requestRefusal } from './envelope.js';
import { stacklessHttpError } from './http-error.js';

type Done = (error?: Error) => void;
interface GateRequest { headers: Readonly<Record<string, string | readonly string[] | undefined>>; execTimer?: unknown }
interface ErrorRequest { log: { info(fields: object, message: string): void; error(fields: object, message: string): void } }
interface ErrorReply { readonly statusCode: number; code(statusCode: number): { send(payload: object): unknown } }
interface FastifyLike {
  addHook(name: 'onRequest', hook: (request: GateRequest, reply: unknown, done: Done) => void): unknown;
  setErrorHandler(handler: (error: Error & { statusCode?: unknown }, request: ErrorRequest, reply: ErrorReply) => void): unknown;
}

const notTimed = (): void => undefined;

function gate(request: GateRequest, _reply: unknown, done: Done): void {
  // The runtime's own preHandler replaces it for every request that reaches the function.
  request.execTimer = notTimed;
  const refusal = requestRefusal(request.headers);
  if (refusal === undefined) return done();
  // The body stays unread: Node answers with `Connection: close` and closes the connection, so what the sender still
  // writes costs nothing.
  done(stacklessHttpError(refusal.status, refusal.reason));
}

function answerError(error: Error & { statusCode?: unknown }, request: ErrorRequest, reply: ErrorReply): void {
  // As Fastify's own handler: the error's status, else one already set on the reply (the runtime's overload check sets 503
  // and then fails), else 500.
  const status = [error.statusCode, reply.statusCode].find((code): code is number => typeof code === 'number' && code >= 400 && code <= 599) ?? 500;
  const message = error.message.split('\n')[0] ?? '';
  if (status < 500) request.log.info({ res: { statusCode: status } }, `rejected request: ${message}`);
  else request.log.error({ err: error }, message);
  reply.code(status).send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
}

function onServer(message: unknown): void {
  const { fastify } = message as { fastify: FastifyLike };
  fastify.addHook('onRequest', gate);
  fastify.setErrorHandler(answerError);
}

export function gateRuntimeRequests(): void {
  // A channel keeps every subscription, duplicates too: at most one of ours.
  unsubscribe('fastify.initialization', onServer);
  subscribe('fastify.initialization', onServer);
}
