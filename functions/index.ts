/**
 * The Knative function: faas-js-runtime loads this module, awaits `init`, then calls `handle` for every CloudEvent.
 * Only it, wiring.ts (the pipeline from a Config) and cli/run.ts (the command line) put other modules together.
 */
import type { Context } from 'faas-js-runtime';
import { NoWorkerFree } from './concurrency.js';
import { loadConfig } from './config.js';
import { asFailure, BuildWatcherError, FRONT_POLICY } from './errors.js';
import { parseIncomingEvent, type CloudEventLike, type IncomingEvent } from './events/intake.js';
import { adjustRuntime } from './events/runtime-adjustments.js';
import { readinessProbe } from './events/runtime-readiness.js';
import { connectKubeApi } from './kube/api.js';
import { redactingLogger, type Logger, type PinoLike } from './observability/logger.js';
import { attachToRuntimeRegistry, eventsReceived, submissions } from './observability/metrics.js';
import { onFirstUse } from './single-flight.js';
import { analyzeObject, type PipelineDeps } from './pipeline/analyze.js';
import type { Outcome } from './pipeline/outcome.js';
import { answer, cdEventsOf, imageBuiltEvent, replyFor, replyForSweep, type HttpAnswer, type Reply } from './reply.js';
import type { CDEventKind } from './events/cdevents.js';
import { sendToSink, type OutgoingEvent } from './events/sink.js';
import { objectLabel } from './kube/object.js';
import { handOffTo } from './sweep/hand-off.js';
import { analyzePicked } from './sweep/picked.js';
import { wire, type Wiring } from './wiring.js';

/**
 * Each delivery ends before the Broker's delivery timeout (5 minutes as shipped) and Knative Serving's request
 * timeout: an answer nobody waits for would be lost, and the redelivery would find the work still running.
 */
const DELIVERY_DEADLINE_MS = 270_000;

/** The runtime's context, as much of it as the function reads. */
export type InvocationContext = { readonly log: PinoLike } & Partial<Pick<Context, 'cloudevent'>>;

// Set once by `init`: faas-js-runtime's contract is a module of hooks, one function per process.
let wiring: Wiring | undefined;
const inFlight = new Set<Promise<unknown>>();

/** Validates the configuration once; a bad one stops the function before it listens. */
export function init(): void {
  attachToRuntimeRegistry();
  adjustRuntime();
  try {
    wiring = wire(loadConfig(), onFirstUse(() => connectKubeApi()));
  } catch (error) {
    // The runtime prints the error and never listens; make the exit status say so too.
    process.exitCode = 78;
    throw error;
  }
}

/**
 * Alive whenever the process answers. The runtime's own check (overload-protection) also fails while the event
 * loop lags more than 42 ms, and the kubelet restarts a container after three failed liveness probes: a busy pod
 * would be killed mid-work, its claims left to expire and half-done submissions sent again. Readiness keeps the
 * runtime's check, so a lagging pod only stops getting new requests until it catches up.
 */
export function liveness(_request: unknown, reply: { send(body: string): unknown }): void {
  reply.send('OK');
}

/** The runtime's readiness check without its crash on a lagging loop (functions/events/runtime-readiness.ts). */
export const readiness = readinessProbe();

export async function shutdown(): Promise<void> {
  await Promise.allSettled([...inFlight]);
}

function namespaceOf(event: IncomingEvent): string | undefined {
  if (event.mode === 'resource') return event.object.namespace;
  if (event.mode === 'reference' || event.mode === 'pending') return event.ref.namespace;
  return undefined;
}

const decisionOf = (outcome: Outcome): string => (outcome.kind === 'ignored' ? `ignored:${outcome.reason}` : outcome.kind);

async function processEvent(event: IncomingEvent, current: Wiring, log: Logger): Promise<Reply | HttpAnswer | undefined> {
  const namespace = namespaceOf(event);
  const allowed = current.config.watchedNamespaces;
  if (namespace !== undefined && allowed.length > 0 && !allowed.includes(namespace)) {
    return answer(403, `namespace ${namespace} is not in THOTH_WATCHED_NAMESPACE`);
  }
  const deps: PipelineDeps = { ...current.deps, log };
  const sink = current.config.eventSink;
  if (event.mode === 'sweep') {
    eventsReceived.inc({ type: 'sweep', decision: 'sweep' });
    // Objects a sweep finds are announced like those of live events; beyond its own share, they go to the Broker.
    const announced = { imageBuilt: true, cdEvents: current.config.cdEvents };
    const summary = await current.sweeps.run(deps, sink === '' ? {} : { announce: (outcome) => announce(outcome, sink, log, announced), handOff: handOffTo(sink) });
    return replyForSweep(summary);
  }
  const analyzer = current.deps.submitter !== undefined;
  // Without an analyser, the reply itself is the image.built event; the CDEvents go to K_SINK either way.
  const announced = { imageBuilt: analyzer, cdEvents: current.config.cdEvents };
  const announcing = sink !== '' && (announced.imageBuilt || announced.cdEvents.length > 0);
  const options = { deadlineMs: DELIVERY_DEADLINE_MS, ...(announcing ? { announce: (submitted: Parameters<typeof announce>[0]) => announce(submitted, sink, log, announced) } : {}) };
  // A sweep's hand-off is worked on as the sweep would have; a live event as it says.
  const outcome = event.mode === 'pending' ? await analyzePicked(event.ref, deps, options)
    : await analyzeObject(event.mode === 'resource' ? { payload: event.object, ref: event.object, action: event.action } : { ref: event.ref, action: event.action }, deps, options);
  eventsReceived.inc({ type: event.mode === 'pending' ? 'object.pending' : `${event.mode}.${event.action}`, decision: decisionOf(outcome) });
  return replyFor(outcome, analyzer);
}

/**
 * Beside Thoth's reply, image.built goes to K_SINK, so one Trigger serves any analyser whether Thoth exists or not; then the
 * CDEvents (BUILD_WATCHER_CDEVENTS), for consumers of that vocabulary. Sent once Thoth has the image, before the mark
 * (functions/pipeline/analyze.ts); each retried, then logged: the reply stays the record.
 */
async function announce(outcome: Parameters<typeof imageBuiltEvent>[0], sink: string, log: Logger, what: { readonly imageBuilt: boolean; readonly cdEvents: readonly CDEventKind[] }): Promise<void> {
  const object = objectLabel(outcome.object);
  const send = async (event: OutgoingEvent) => {
    try {
      await sendToSink(sink, event);
    } catch (error) {
      log.warn({ object, type: event.type }, `${event.type} not sent to K_SINK: ${error instanceof Error ? error.message : 'unknown error'}`);
    }
  };
  const built = what.imageBuilt ? imageBuiltEvent(outcome) : undefined;
  if (built !== undefined) await send(built);
  await Promise.all(cdEventsOf(outcome, what.cdEvents).map(send));
}

export async function handle(context: InvocationContext, event?: CloudEventLike): Promise<Reply | HttpAnswer | undefined> {
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
    if (error instanceof NoWorkerFree) {
      // Nothing was tried: the Broker redelivers with backoff, and Knative may add a pod meanwhile.
      eventsReceived.inc({ type: parsed.mode, decision: error.why });
      return answer(FRONT_POLICY.transient.httpStatus, error.message);
    }
    const failure = asFailure(error);
    eventsReceived.inc({ type: parsed.mode, decision: failure.kind === 'transient' ? 'failed' : failure.kind });
    if (failure.kind === 'invalid') {
      log.info({}, `rejected event: ${failure.message}`);
      return answer(failure.status, failure.message);
    }
    submissions.inc({ endpoint: 'any', result: failure.kind === 'refused' ? 'refused' : 'failed' });
    if (failure.kind === 'refused' && parsed.mode !== 'sweep') {
      // Final: a 2xx so that the Broker stops redelivering, and the refused reply says why.
      log.warn({}, `refused: ${failure.message}`);
      const object = parsed.mode === 'resource' ? parsed.object : { ...parsed.ref, uid: '' };
      return replyFor({ kind: 'refused', object, reason: failure.message });
    }
    log.warn({}, `will be retried: ${failure.message}`);
    // A numeric 503: Knative's Broker redelivers and finally dead-letters.
    return answer(FRONT_POLICY.transient.httpStatus, failure.message);
  } finally {
    inFlight.delete(work);
  }
}
