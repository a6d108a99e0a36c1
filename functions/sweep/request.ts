/**
 * A sweep CloudEvent (PingSource or by hand) in the function: one sweep at a time per process (a redelivery that arrives while
 * the first is still running waits for it and shares its summary), and the summary log line. The answer is made at the edge
 * (functions/reply.ts).
 */
import { invalid } from '../errors.js';
import type { Collection, PageLister } from '../kube/objects.js';
import { sweepObjects } from '../observability/metrics.js';
import type { PipelineDeps } from '../pipeline/analyze.js';
import { describeSweep } from './describe.js';
import { namespacesToSweep } from './namespaces.js';
import { runSweep, type SweepDeps } from './sweep.js';
import type { SweepSummary } from './tally.js';
import { SingleFlight } from '../single-flight.js';

export interface SweepSettings {
  readonly lister: PageLister;
  readonly collections: readonly Collection[];
  /** THOTH_WATCHED_NAMESPACE; empty = the function's own namespace. */
  readonly watchedNamespaces: readonly string[];
  readonly ownNamespace: () => Promise<string | undefined>;
  /** BUILD_WATCHER_SWEEP_ALL_NAMESPACES: without an allow-list, one cluster-wide list per kind. */
  readonly allNamespaces: boolean;
  readonly batch: number;
}

/** Inside the Broker's 5-minute delivery timeout: pick for 3 minutes, finish by 4.5. */
const PICK_FOR_MS = 180_000;
const SWEEP_DEADLINE_MS = 270_000;

export class SweepRequests {
  readonly #settings: SweepSettings;
  readonly #sweeps = new SingleFlight<SweepSummary>();

  constructor(settings: SweepSettings) { this.#settings = settings; }

  /**
   * The summary of this sweep, or of the one already running; `invalid` when none can run. `sink`: where image.built goes
   * for what this sweep (not one it joins) submits, and where it hands off what it does not work on itself.
   */
  async run(pipeline: PipelineDeps, sink: Pick<SweepDeps, 'announce' | 'handOff'> = {}): Promise<SweepSummary> {
    const settings = this.#settings;
    if (pipeline.ledger.readOnly) throw invalid('the sweep reads the API server: not available with BUILD_WATCHER_TRUST_EVENT_PAYLOAD', 422);
    const namespaces: readonly (string | undefined)[] =
      settings.allNamespaces && settings.watchedNamespaces.length === 0 ? [undefined] : await namespacesToSweep(settings.watchedNamespaces, settings.ownNamespace);
    if (namespaces.length === 0) throw invalid('cannot tell which namespaces to sweep: set THOTH_WATCHED_NAMESPACE or POD_NAMESPACE', 422);
    if (this.#sweeps.running) pipeline.log.info({}, 'a sweep is already running in this instance; answering with its summary');
    return this.#sweeps.run(async () => {
      const summary = await runSweep({
        lister: settings.lister, pipeline, onOutcome: (kind, outcome) => sweepObjects.inc({ kind, outcome }), ...sink,
      }, { collections: settings.collections, namespaces, batch: settings.batch, pickUntil: Date.now() + PICK_FOR_MS, signal: AbortSignal.timeout(SWEEP_DEADLINE_MS) });
      const line = describeSweep(summary);
      if (summary.failed > 0 || summary.listingFailed) pipeline.log.warn({ sweep: summary }, line);
      else pipeline.log.info({ sweep: summary }, line);
      return summary;
    });
  }
}
