/**
 * A sweep CloudEvent (PingSource or by hand) in the function: one sweep at a time per process
 * (a redelivery that arrives while the first is still running waits for it and gets its
 * summary), the summary log line and metric, and the answer: a sweep.completed CloudEvent, or
 * a numeric 503 when anything transient failed, so that the Broker redelivers the event and
 * the retry picks up where this one stopped.
 */
import type { CloudEvent } from 'cloudevents';
import { REPLY_SOURCE, SWEEP_COMPLETED_TYPE } from '../events/types.js';
import type { Logger } from '../observability/logger.js';
import { sweepObjects } from '../observability/metrics.js';
import { redact } from '../observability/redact.js';
import type { Outcome, PipelineDeps } from '../pipeline/analyse.js';
import { describeSweep } from './describe.js';
import { namespacesToSweep } from './namespaces.js';
import { runSweep, type Collection, type PageLister, type SweepSummary } from './sweep.js';

export interface SweepSettings {
  readonly collections: readonly Collection[];
  /** THOTH_WATCHED_NAMESPACE; empty = the function's own namespace. */
  readonly watchedNamespaces: readonly string[];
  readonly ownNamespace: () => Promise<string | undefined>;
  readonly batch: number;
  readonly workers: number;
}

/** The `{statusCode, headers, body}` faas-js-runtime sends as is. */
export interface PlainAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const plain = (statusCode: number, text: string): PlainAnswer => ({
  statusCode,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body: `${redact(text).split('\n')[0] ?? ''}\n`,
});

const PICK_FOR_MS = 180_000;
const SWEEP_DEADLINE_MS = 270_000;

let running: Promise<SweepSummary> | undefined;

export async function answerSweep(
  lister: PageLister,
  pipeline: PipelineDeps,
  settings: SweepSettings,
  onAnalysed?: (outcome: Outcome) => void,
): Promise<CloudEvent<SweepSummary> | PlainAnswer> {
  const log: Logger = pipeline.log;
  if (pipeline.trustEventPayload) return plain(422, 'the sweep reads the API server: not available with BUILD_WATCHER_TRUST_EVENT_PAYLOAD');
  const namespaces = await namespacesToSweep(settings.watchedNamespaces, settings.ownNamespace);
  if (namespaces.length === 0) {
    return plain(422, 'cannot tell which namespaces to sweep: set THOTH_WATCHED_NAMESPACE or POD_NAMESPACE');
  }
  let summary: SweepSummary;
  if (running !== undefined) {
    log.info({}, 'a sweep is already running in this instance; answering with its summary');
    summary = await running;
  } else {
    const sweep = runSweep(
      { lister, pipeline, onOutcome: (kind, outcome) => sweepObjects.inc({ kind, outcome }), ...(onAnalysed ? { onAnalysed } : {}) },
      {
        collections: settings.collections,
        namespaces,
        batch: settings.batch,
        workers: settings.workers,
        // Inside the Broker's 5-minute delivery timeout: pick for 3 minutes, finish by 4.5.
        pickUntil: Date.now() + PICK_FOR_MS,
        signal: AbortSignal.timeout(SWEEP_DEADLINE_MS),
      },
    );
    running = sweep;
    try {
      summary = await sweep;
    } finally {
      running = undefined;
    }
    const line = describeSweep(summary);
    if (summary.failed > 0) log.warn({ sweep: summary }, line);
    else log.info({ sweep: summary }, line);
  }
  if (summary.failed > 0) return plain(503, describeSweep(summary));
  const { CloudEvent } = await import('cloudevents');
  return new CloudEvent<SweepSummary>({
    type: SWEEP_COMPLETED_TYPE,
    source: REPLY_SOURCE,
    datacontenttype: 'application/json',
    data: summary,
  });
}
