/** The one summary line a sweep ends with, for logs and the terminal. */
import type { SweepSummary } from './tally.js';

export function describeSweep(summary: SweepSummary): string {
  const listed = Object.entries(summary.kinds)
    .map(([kind, counts]) => `${counts.listed} ${kind}`)
    .join(', ');
  const parts = [
    `${summary.submitted} submitted`,
    ...(summary.handedOff > 0 ? [`${summary.handedOff} handed to the Broker`] : []),
    ...(summary.busy > 0 ? [`${summary.busy} busy (claimed by a live process)`] : []),
    `${summary.refused} refused`,
    `${summary.failed} failed`,
    `of ${summary.picked} picked from ${listed === '' ? 'nothing' : listed} listed in ${summary.namespaces.join(', ') || 'no namespace'}`,
  ];
  let tail = '';
  if (summary.stoppedEarly !== undefined) tail = `; stopped early (${summary.stoppedEarly}), the rest next sweep`;
  else if (!summary.complete) tail = '; picking time is up, the rest next sweep';
  if (summary.unavailable.length > 0) tail += `; not listed: ${summary.unavailable.join(', ')}`;
  return `sweep: ${parts.join(', ')}${tail}`;
}
