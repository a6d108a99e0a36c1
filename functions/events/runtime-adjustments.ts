/**
 * Every adjustment the function makes to faas-js-runtime 4.0.1, in one place, applied by `init`
 * before the runtime builds its server. Each is contained (it touches only the runtime's private
 * copies, adds hooks to the server it announces on a Node diagnostics channel, or listens on one)
 * and says in its module why it is needed.
 */
import { answerSlowRequestsWith408 } from './request-deadline.js';
import { exitNonZeroOnUncaughtErrors } from './runtime-exit.js';
import { boundRuntimeJsonParsing } from './runtime-json-guard.js';
import { gateRuntimeRequests } from './runtime-server-hooks.js';
import { answerInvalidCloudEventsWith400 } from './runtime-validation.js';

export function adjustRuntime(): void {
  exitNonZeroOnUncaughtErrors();
  answerInvalidCloudEventsWith400();
  boundRuntimeJsonParsing();
  gateRuntimeRequests();
  answerSlowRequestsWith408();
}
