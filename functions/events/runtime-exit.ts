/**
 * faas-js-runtime 4.0.1 hands `uncaughtException` to the `death` package, whose callback runs the function's shutdown and
 * then calls `process.exit(0)`: an uncaught error or unhandled rejection (Node raises those as uncaught exceptions) ended the
 * process with status 0 and nothing logged, so neither the kubelet nor anyone reading the logs could tell it had failed.
 * Ours runs first, writes one line saying why (as JSON at pino's fatal level, like the runtime's other lines) and exits 70
 * (EX_SOFTWARE, unless a status was already set) at once: after an uncaught error, no state of the process can be trusted
 * to finish a graceful shutdown.
 */
import { writeSync } from 'node:fs';
import { redact } from '../observability/redact.js';

const UNCAUGHT_EXIT_CODE = 70;

const FATAL_LEVEL = 60;

function onUncaught(error: unknown, origin: string): void {
  // A status already set says more (78: `init` refused the configuration).
  const status = typeof process.exitCode === 'number' && process.exitCode !== 0 ? process.exitCode : UNCAUGHT_EXIT_CODE;
  const what = origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception';
  const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const msg = `exiting with status ${status} after an ${what}: ${redact(why.split('\n')[0] ?? '').slice(0, 500)}`;
  try {
    writeSync(1, `${JSON.stringify({ level: FATAL_LEVEL, time: Date.now(), pid: process.pid, msg })}\n`);
  } finally {
    process.exit(status);
  }
}

export function exitNonZeroOnUncaughtErrors(): void {
  process.removeListener('uncaughtException', onUncaught);
  process.prependListener('uncaughtException', onUncaught);
}
