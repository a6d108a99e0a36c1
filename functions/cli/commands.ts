/**
 * `build-watcher watch` and `build-watcher analyze-existing`: the function's pipeline, fed by a
 * watch or by one sweep instead of CloudEvents.
 */
import type { Config } from '../config.js';
import { BuildWatcherError } from '../errors.js';
import type { KubeObject } from '../events/intake.js';
import type { ObjectAction } from '../events/types.js';
import { analyseObject, type PipelineDeps } from '../pipeline/analyse.js';
import { describeSweep } from '../sweep/describe.js';
import { runSweep, type SweepSummary } from '../sweep/sweep.js';
import { countSubmission, type Wiring } from '../wiring.js';
import type { KubeStreaming } from './kube-stream.js';
import type { Terminal } from './terminal.js';
import { watchCollection, type ObjectHandler } from './watch-loop.js';
import { WorkQueue } from './work-queue.js';

export interface CommandContext {
  readonly config: Config;
  readonly wiring: Wiring;
  readonly streaming: KubeStreaming;
  readonly namespaces: readonly string[];
  readonly terminal: Terminal;
  /** Aborted by SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  readonly watchTimeoutSeconds?: number;
  /** watch: list again this often; undefined for never. */
  readonly resyncMs?: number;
  /** Where the one-line result of analyze-existing goes (stdout). */
  readonly print: (line: string) => void;
}

export const EXIT_OK = 0;
export const EXIT_FAILURES = 1;

const message = (error: unknown) => (error instanceof Error ? error.message : 'unknown error');
const describe = (object: { kind: string; namespace: string; name: string }) => `${object.kind} ${object.namespace}/${object.name}`;

/** client-go's reflector draws its watch timeouts from 5–10 minutes, so watches of many clients do not expire together. */
const defaultWatchTimeout = () => 300 + Math.floor(Math.random() * 300);

export async function watchCommand(context: CommandContext): Promise<number> {
  const { wiring, terminal, config } = context;
  const log = terminal.log;
  const deps: PipelineDeps = { ...wiring.deps, log };
  const queue = new WorkQueue<{ object: KubeObject; action: ObjectAction }>({
    workers: config.workers,
    process: async ({ object, action }) => {
      try {
        const outcome = await analyseObject({ payload: object, ref: object, action }, deps);
        countSubmission(outcome);
        if (outcome.kind === 'ignored') log.debug({ object: describe(object) }, `ignored: ${outcome.reason}`);
        return 'done';
      } catch (error) {
        if (error instanceof BuildWatcherError && error.kind !== 'transient') {
          log.warn({ object: describe(object) }, `${error.kind}: ${error.message}`);
          return 'done';
        }
        log.warn({ object: describe(object) }, `will be retried: ${message(error)}`);
        return 'retry';
      }
    },
  });

  const handle: ObjectHandler = (object, action, origin) => {
    const source = deps.sources.get(`${object.apiVersion}/${object.kind}`);
    if (source === undefined) return;
    let reason: string | undefined;
    try {
      reason = source.prefilter(object, action);
    } catch (error) {
      log.warn({ object: describe(object) }, `not analysed: ${message(error)}`);
      return;
    }
    if (reason !== undefined) {
      log.debug({ object: describe(object), origin }, `ignored: ${reason}`);
      return;
    }
    queue.add(`${object.apiVersion}/${object.kind}/${object.namespace}/${object.name}`, { object, action });
  };

  const stop = new AbortController();
  const signal = AbortSignal.any([context.signal, stop.signal]);
  const timeoutSeconds = context.watchTimeoutSeconds === undefined ? defaultWatchTimeout : () => context.watchTimeoutSeconds ?? 300;
  const kinds = wiring.collections.map((collection) => collection.kind).join(', ');
  log.info({ namespaces: context.namespaces.join(','), kinds }, `watching ${kinds} in ${context.namespaces.join(', ')}; submitting to ${config.thothHost}`);
  let code = EXIT_OK;
  await Promise.all(
    context.namespaces.flatMap((namespace) =>
      wiring.collections.map((collection) =>
        watchCollection(wiring.lister, context.streaming, { ...collection, namespace }, handle, log, {
          signal,
          timeoutSeconds,
          ...(context.resyncMs !== undefined ? { resyncMs: context.resyncMs } : {}),
        }).catch((error: unknown) => {
          code = EXIT_FAILURES;
          log.error({}, message(error));
          stop.abort();
        }),
      ),
    ),
  );
  log.info({}, code === EXIT_OK ? 'stopping: finishing the objects in progress' : 'stopping after a fatal error');
  await queue.close();
  return code;
}

function progressLine(summary: SweepSummary, batch: number): string {
  const listed = Object.values(summary.kinds).reduce((sum, counts) => sum + counts.listed, 0);
  const done = summary.submitted + summary.refused + summary.failed;
  return `analyze-existing: ${listed} listed, ${done}/${summary.picked} of at most ${batch} analysed — ${summary.submitted} submitted, ${summary.refused} refused, ${summary.failed} failed`;
}

export async function analyzeExistingCommand(context: CommandContext): Promise<number> {
  const { wiring, terminal, config } = context;
  const deps: PipelineDeps = { ...wiring.deps, log: terminal.log };
  const summary = await runSweep(
    { lister: wiring.lister, pipeline: deps, onAnalysed: countSubmission },
    {
      collections: wiring.collections,
      namespaces: context.namespaces,
      batch: config.sweepBatch,
      workers: config.workers,
      signal: context.signal,
      onProgress: (progress) => terminal.progress(progressLine(progress, config.sweepBatch)),
    },
  );
  terminal.done();
  context.print(describeSweep(summary));
  if (!summary.complete && summary.stoppedEarly === undefined) {
    terminal.log.info({}, 'more objects wait: run analyze-existing again, or raise --sweep-batch');
  }
  const failed = summary.failed > 0 || summary.refused > 0 || summary.unavailable.length > 0 || summary.stoppedEarly !== undefined;
  return failed ? EXIT_FAILURES : EXIT_OK;
}
