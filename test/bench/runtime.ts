/**
 * A compiled handler (the function, or the echo handler it is measured against) started cold
 * under faas-js-runtime's own command line, for the benchmarks. Readiness is polled every 2 ms
 * on a fresh connection each time, so the start-up time it reports is not rounded up by the poll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { freePort } from '../function/run-function.js';

export interface StartedRuntime {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Process start → ready. */
  readonly readyMs: number;
  /** Milliseconds since the process was started. */
  since(): number;
  stop(): Promise<void>;
}

function ready(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health/readiness', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });
}

export interface RuntimeOptions {
  /** Default 20 s. */
  readonly readyWithinMs?: number;
  /** A command the runtime's own command line is appended to, which must end in exec'ing it. */
  readonly launcher?: readonly string[];
}

/** `root` is the repository's (its node_modules hold the runtime); `env` is all the handler gets besides PATH and the port. */
export async function startRuntime(root: string, file: string, env: Readonly<Record<string, string>>, options: RuntimeOptions = {}): Promise<StartedRuntime> {
  const port = await freePort();
  const started = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - started) / 1e6;
  const [command = process.execPath, ...args] = [...(options.launcher ?? []), process.execPath, path.join(root, 'node_modules/faas-js-runtime/bin/cli.js'), file];
  const child = spawn(command, args, {
    cwd: root,
    env: { PATH: process.env['PATH'] ?? '', FUNC_PORT: String(port), FUNC_LOG_LEVEL: 'error', ...env },
    stdio: 'ignore',
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  const deadline = Date.now() + (options.readyWithinMs ?? 20_000);
  while (!(await ready(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`${file} did not become ready`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { url: `http://127.0.0.1:${port}`, port, child, readyMs: since(), since, stop };
}
