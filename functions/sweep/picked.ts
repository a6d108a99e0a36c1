/**
 * One object a sweep picked, worked on as a live update of it would be: re-read from the API server, claimed, submitted, marked.
 * The sweep runs it in process; a dev.build-watcher.object.pending event it handed to the Broker runs it in whichever replica the
 * Broker delivers to. A refusal is marked `sweep-refused-at`, so later sweeps leave the object alone for a day.
 */
import { asFailure, FRONT_POLICY } from '../errors.js';
import type { ObjectCoordinates } from '../kube/object.js';
import { analyzeObject, type AnalyzeOptions, type PipelineDeps } from '../pipeline/analyze.js';
import type { Outcome } from '../pipeline/outcome.js';

export async function analyzePicked(ref: ObjectCoordinates, deps: PipelineDeps, options: AnalyzeOptions): Promise<Outcome> {
  try {
    // Picked only when its sweep-refused-at mark is old: a refusal remembered in memory must not stop it.
    const outcome = await analyzeObject({ ref, action: 'update', retryRefused: true }, deps, options);
    if (outcome.kind === 'refused') await deps.ledger.recordSweepRefusal(ref);
    return outcome;
  } catch (error) {
    if (!FRONT_POLICY[asFailure(error).kind].retry) await deps.ledger.recordSweepRefusal(ref);
    throw error;
  }
}
