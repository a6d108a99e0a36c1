/**
 * The Knative function: faas-js-runtime loads this module, awaits `init`, then calls `handle`
 * for every CloudEvent. This is the only module that wires the others together.
 */
import type { CloudEvent } from 'cloudevents';
import { loadConfig } from './config.js';
import { BuildWatcherError } from './errors.js';
import { parseIncomingEvent, type CloudEventLike, type IncomingEvent } from './events/intake.js';
import { replyFor } from './events/reply.js';
import { answerInvalidCloudEventsWith400 } from './events/runtime-validation.js';
import { connectKubeApi } from './kube/api.js';
import { lazyKubeApi } from './kube/store.js';
import { redactingLogger, type Logger, type PinoLike } from './observability/logger.js';
import { attachToRuntimeRegistry, eventsReceived, submissions } from './observability/metrics.js';
import { redact } from './observability/redact.js';
import { analyseObject, type Outcome, type PipelineDeps } from './pipeline/analyse.js';
import { ownNamespace } from './sweep/namespaces.js';
import { answerSweep } from './sweep/request.js';
import { countSubmission, wire, type Wiring } from './wiring.js';

/**
 * Each delivery ends before the Broker's delivery timeout (5 minutes as shipped) and Knative
 * Serving's request timeout: an answer nobody waits for anymore would be lost, and the
 * Broker's redelivery would find the work still running.
 */
const DELIVERY_DEADLINE_MS = 270_000;

let wiring: Wiring | undefined;
const inFlight = new Set<Promise<unknown>>();

/** What faas-js-runtime passes as the first argument. */
export interface InvocationContext {
  readonly log: PinoLike;
  /** Set only when the request was a CloudEvent; otherwise the runtime passes the raw body. */
  readonly cloudevent?: unknown;
}

export interface HttpAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function answer(statusCode: number, reason: string): HttpAnswer {
  // One line saying why; Knative keeps it in the dead-letter event's knativeerrordata.
  return { statusCode, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `${redact(reason).split('\n')[0] ?? ''}\n` };
}

/** Validates the configuration once; a bad one stops the function before it listens. */
export function init(): void {
  attachToRuntimeRegistry();
  answerInvalidCloudEventsWith400();
  try {
    wiring = wire(loadConfig(), lazyKubeApi(() => connectKubeApi()));
  } catch (error) {
    // The runtime prints the error and never listens; make the exit status say so too.
    process.exitCode = 78;
    throw error;
  }
}

export async function shutdown(): Promise<void> {
  await Promise.allSettled([...inFlight]);
}

function namespaceOf(event: IncomingEvent): string | undefined {
  if (event.mode === 'resource') return event.object.namespace;
  if (event.mode === 'reference') return event.ref.namespace;
  return undefined;
}

function decisionOf(outcome: Outcome): string {
  return outcome.kind === 'ignored' ? `ignored:${outcome.reason}` : outcome.kind;
}

async function processEvent(event: IncomingEvent, current: Wiring, log: Logger): Promise<CloudEvent<unknown> | HttpAnswer | undefined> {
  const namespace = namespaceOf(event);
  const allowed = current.config.watchedNamespaces;
  if (namespace !== undefined && allowed.length > 0 && !allowed.includes(namespace)) {
    return answer(403, `namespace ${namespace} is not in THOTH_WATCHED_NAMESPACE`);
  }
  if (event.mode === 'sweep') {
    eventsReceived.inc({ type: 'sweep', decision: 'sweep' });
    const { config } = current;
    const settings = { collections: current.collections, watchedNamespaces: config.watchedNamespaces, ownNamespace: () => ownNamespace(), batch: config.sweepBatch, workers: config.workers };
    return await answerSweep(current.lister, { ...current.deps, log }, settings, countSubmission);
  }
  const input =
    event.mode === 'resource'
      ? { payload: event.object, ref: event.object, action: event.action }
      : { ref: event.ref, action: event.action };
  const deps: PipelineDeps = { ...current.deps, log };
  const source = deps.sources.get(`${input.ref.apiVersion}/${input.ref.kind}`);
  // Filtering happens before the concurrency limit: ignored events never wait behind work.
  const early = input.payload !== undefined ? source?.prefilter(input.payload, input.action) : undefined;
  let outcome: Outcome;
  if (early !== undefined) outcome = { kind: 'ignored', reason: early, object: input.ref };
  else {
    // Started before queueing for a worker: the sender's clock is already running.
    const deadline = AbortSignal.timeout(DELIVERY_DEADLINE_MS);
    outcome = await current.limit(() => analyseObject(input, deps, deadline));
  }
  eventsReceived.inc({ type: `${event.mode}.${input.action}`, decision: decisionOf(outcome) });
  countSubmission(outcome);
  return await replyFor(outcome);
}

export async function handle(context: InvocationContext, event?: CloudEventLike): Promise<CloudEvent<unknown> | HttpAnswer | undefined> {
  const log = redactingLogger(context.log);
  const current = wiring;
  if (current === undefined) return answer(503, 'not initialised');
  if (event === undefined || context.cloudevent === undefined) {
    eventsReceived.inc({ type: 'none', decision: 'invalid' });
    return answer(400, 'expected a CloudEvent (binary or structured content mode)');
  }
  let parsed: IncomingEvent;
  try {
    parsed = parseIncomingEvent(event);
  } catch (error) {
    const reason = error instanceof BuildWatcherError ? error.message : 'unreadable event';
    // Never the sender's type string as a label: anyone could mint unbounded time series.
    eventsReceived.inc({ type: 'unrecognised', decision: 'invalid' });
    log.info({ type: event.type }, `rejected event: ${reason}`);
    return answer(error instanceof BuildWatcherError ? error.status : 400, reason);
  }
  const work = processEvent(parsed, current, log);
  inFlight.add(work);
  try {
    return await work;
  } catch (error) {
    if (error instanceof BuildWatcherError && error.kind === 'invalid') {
      eventsReceived.inc({ type: parsed.mode, decision: 'invalid' });
      log.info({}, `rejected event: ${error.message}`);
      return answer(error.status, error.message);
    }
    const reason = error instanceof Error ? error.message : 'unknown failure';
    eventsReceived.inc({ type: parsed.mode, decision: 'failed' });
    submissions.inc({ endpoint: 'any', result: 'failed' });
    log.warn({}, `will be retried: ${reason}`);
    // A numeric 503: Knative's Broker redelivers and finally dead-letters.
    return answer(503, reason);
  } finally {
    inFlight.delete(work);
  }
}
