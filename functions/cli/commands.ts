/** `build-watcher watch` and `build-watcher analyze-existing`: the function's pipeline, fed by a watch or one sweep instead of CloudEvents. */
import type { Config } from '../config.js';
import { asFailure, FRONT_POLICY } from '../errors.js';
import type { ObjectAction } from '../events/types.js';
import { kindKey } from '../domain/kinds.js';
import { objectKey, objectLabel, type KubeObject } from '../kube/object.js';
import { analyzeObject, type PipelineDeps } from '../pipeline/analyze.js';
import { describeSweep } from '../sweep/describe.js';
import { runSweep } from '../sweep/sweep.js';
import type { SweepSummary } from '../sweep/tally.js';
import type { Wiring } from '../wiring.js';
import type { KubeConnection } from '../kube/api.js';
import type { Terminal } from './terminal.js';
import { watchCollection, type ObjectHandler } from './watch-loop.js';
import { WorkQueue } from './work-queue.js';

export interface CommandContext {
  readonly config: Config;
  readonly wiring: Wiring;
  readonly streaming: KubeConnection;
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

const EXIT_OK = 0;
export const EXIT_FAILURES = 1;

const message = (error: unknown) => (error instanceof Error ? error.message : 'unknown error');

/** client-go's reflector draws its watch timeouts from 5–10 minutes, so watches of many clients do not expire together. */
const defaultWatchTimeout = () => 300 + Math.floor(Math.random() * 300);

export async function watchCommand(context: CommandContext): Promise<number> {
  const { wiring, terminal, config } = context;
  const log = terminal.log;
  const deps: PipelineDeps = { ...wiring.deps, log };
  // At most THOTH_BUILD_WATCHER_WORKERS at once: the pipeline's own limit. No sender waits on an answer here, so the objects
  // queue as background work, which BUILD_WATCHER_QUEUE_LIMIT (a bound on open deliveries) does not turn away.
  const queue = new WorkQueue<{ object: KubeObject; action: ObjectAction }>({
    process: async ({ object, action }) => {
      try {
        const outcome = await analyzeObject({ payload: object, ref: object, action }, deps, { priority: 'background' });
        if (outcome.kind === 'ignored') log.debug({ object: objectLabel(object) }, `ignored: ${outcome.reason}`);
        // Claimed by a live process (say, a predecessor killed mid-work): tried again until its lease expired, then
        // taken over. A claim seen in the listed or watched object ('claimed-elsewhere') too: the function leaves
        // that to the next sweep, but here the next chance would be the resync, 30 minutes away.
        if (outcome.kind === 'busy' || (outcome.kind === 'ignored' && outcome.reason === 'claimed-elsewhere')) return 'retry';
        return 'done';
      } catch (error) {
        const failure = asFailure(error);
        if (FRONT_POLICY[failure.kind].retry) {
          log.warn({ object: objectLabel(object) }, `will be retried: ${message(error)}`);
          return 'retry';
        }
        // Not retried until the object changes: its next event queues it again.
        log.warn({ object: objectLabel(object) }, `${failure.kind}: ${failure.message}`);
        return 'done';
      }
    },
  });

  const handle: ObjectHandler = (object, action, origin) => {
    const source = deps.sources.get(kindKey(object));
    if (source === undefined) return;
    let reason: string | undefined;
    try {
      reason = deps.ledger.isMarked(object) ? 'already-submitted' : source.read(object).skipReason(action);
    } catch (error) {
      log.warn({ object: objectLabel(object) }, `not analysed: ${message(error)}`);
      return;
    }
    if (reason !== undefined) {
      log.debug({ object: objectLabel(object), origin }, `ignored: ${reason}`);
      return;
    }
    queue.add(objectKey(object), { object, action });
  };

  const stop = new AbortController();
  const signal = AbortSignal.any([context.signal, stop.signal]);
  const timeoutSeconds = context.watchTimeoutSeconds === undefined ? defaultWatchTimeout : () => context.watchTimeoutSeconds ?? 300;
  const kinds = wiring.collections.map((collection) => collection.kind).join(', ');
  log.info({ namespaces: context.namespaces.join(','), kinds }, `watching ${kinds} in ${context.namespaces.join(', ')}; submitting to ${config.thothHost}`);
  let code = EXIT_OK;
  await Promise.all(context.namespaces.flatMap((namespace) => wiring.collections.map((collection) =>
    watchCollection(wiring.lister, context.streaming, { ...collection, namespace }, handle, log,
      { signal, timeoutSeconds, ...(context.resyncMs !== undefined ? { resyncMs: context.resyncMs } : {}) }).catch((error: unknown) => {
      code = EXIT_FAILURES;
      log.error({}, message(error));
      stop.abort();
    }))));
  log.info({}, code === EXIT_OK ? 'stopping: finishing the objects in progress' : 'stopping after a fatal error');
  await queue.close();
  return code;
}

function progressLine(summary: SweepSummary): string {
  const listed = Object.values(summary.kinds).reduce((sum, counts) => sum + counts.listed, 0);
  const done = summary.submitted + summary.busy + summary.refused + summary.failed;
  return `analyze-existing: ${listed} listed, ${done}/${summary.picked} analyzed — ${summary.submitted} submitted, ${summary.busy} busy, ${summary.refused} refused, ${summary.failed} failed`;
}

export async function analyzeExistingCommand(context: CommandContext): Promise<number> {
  const { wiring, terminal, config } = context;
  const deps: PipelineDeps = { ...wiring.deps, log: terminal.log };
  const summary = await runSweep({ lister: wiring.lister, pipeline: deps }, {
    collections: wiring.collections, namespaces: context.namespaces, batch: config.sweepBatch, signal: context.signal,
    onProgress: (progress) => terminal.progress(progressLine(progress)),
  });
  terminal.done();
  context.print(describeSweep(summary));

  // Busy objects are not failures: their holder, or the next run once its claim expires, does them.
  const failed = summary.failed > 0 || summary.refused > 0 || summary.unavailable.length > 0 || summary.stoppedEarly !== undefined;
  return failed ? EXIT_FAILURES : EXIT_OK;
}
