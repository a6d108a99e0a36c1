#!/usr/bin/env node
/**
 * `build-watcher` (package.json "bin"; `npm run cli -- <command>` without a build). The first
 * SIGINT/SIGTERM lets objects in progress finish; a second one exits at once.
 */
import { main } from './run.js';

const stop = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (stop.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
  stop.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await main(process.argv.slice(2), process.env, {
  stderr: { write: (text) => process.stderr.write(text), isTTY: process.stderr.isTTY === true },
  stdout: (text) => process.stdout.write(text),
  signal: stop.signal,
});
process.exit(code);
