/**
 * Every adjustment the function makes to faas-js-runtime 4.0.1, in one place, applied by `init`
 * before the runtime builds its server. Each is contained (it touches only the runtime's private
 * copies, or listens on a Node diagnostics channel) and says in its module why it is needed.
 */
import { answerSlowRequestsWith408 } from './request-deadline.js';
import { boundRuntimeJsonParsing } from './runtime-json-guard.js';
import { answerInvalidCloudEventsWith400 } from './runtime-validation.js';

export function adjustRuntime(): void {
  answerInvalidCloudEventsWith400();
  boundRuntimeJsonParsing();
  answerSlowRequestsWith408();
}
