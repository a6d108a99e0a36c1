/** What to do with a Build: pure, so every case is a table test. */
import type { ObjectAction } from '../events/types.js';
import type { OpenShiftBuild } from './build.js';

export interface WhatToSend {
  readonly sendBaseImage: boolean;
  readonly sendOutputImage: boolean;
  readonly sendBuildLog: boolean;
}

export type IgnoreReason = 'deleted' | 'not-finished' | 'cancelled' | 'nothing-to-send' | 'already-submitted';

export type BuildDecision =
  | { readonly action: 'ignore'; readonly reason: IgnoreReason }
  | { readonly action: 'analyze'; readonly output: boolean; readonly base: boolean; readonly log: boolean };

export function decideBuild(build: OpenShiftBuild, action: ObjectAction, send: WhatToSend): BuildDecision {
  if (action === 'delete') return { action: 'ignore', reason: 'deleted' };
  let decision: BuildDecision;
  switch (build.phase) {
    case 'Complete':
      decision = {
        action: 'analyze',
        output: send.sendOutputImage && build.outputReference !== undefined,
        base: send.sendBaseImage && build.from !== undefined,
        log: send.sendBuildLog,
      };
      break;
    // The original meant to submit failed builds (their log says why) and never did.
    case 'Failed':
    case 'Error':
      decision = { action: 'analyze', output: false, base: send.sendBaseImage && build.from !== undefined, log: send.sendBuildLog };
      break;
    case 'Cancelled':
      return { action: 'ignore', reason: 'cancelled' };
    default:
      return { action: 'ignore', reason: 'not-finished' };
  }
  if (!decision.output && !decision.base && !decision.log) return { action: 'ignore', reason: 'nothing-to-send' };
  return decision;
}
