import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync } from 'node:fs';

/**
 * Runs a binary in its own process group under a tiny bash watchdog, so that nothing outlives
 * the test process:
 * - normal stop: SIGTERM to the watchdog, which forwards it and waits for the binary;
 * - the test process dies however it dies (even SIGKILL): the watchdog's stdin pipe closes and
 *   it kills its whole group;
 * - SIGINT/SIGTERM/exit of the test process: the handlers below kill every group synchronously
 *   and remove registered temporary directories.
 */
const WATCHDOG = [
  'exec 3<&0 </dev/null',
  '"$@" 3<&- &',
  'child=$!',
  // An orphaned watchdog: our stdin (a pipe from the test process) closed, so take the group down.
  // A builtin read loop, not cat, so that killing $watcher leaves no child behind.
  '( while read -r -u 3 _; do :; done; kill -KILL -- -$$ ) &',
  'watcher=$!',
  'exec 3<&-',
  'trap \'kill -TERM "$child" 2>/dev/null\' TERM INT',
  'status=0',
  'while kill -0 "$child" 2>/dev/null; do wait "$child"; status=$?; done',
  'kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null',
  'exit "$status"',
].join('\n');

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** True until the process has exited. */
  running(): boolean;
  /** The last lines of the process's combined stdout/stderr, for error messages. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL to the whole group if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** kill -9 of the whole group at once (the binary and its watchdog), as a node failure takes a pod. */
  kill(): Promise<void>;
}

export interface StartProcessOptions {
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** File that receives stdout and stderr (appended). */
  logPath: string;
}

const liveGroups = new Set<number>();
const tempDirs = new Set<string>();

export function startProcess(options: StartProcessOptions): ManagedProcess {
  const logFd = openSync(options.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn('bash', ['-c', WATCHDOG, 'watchdog', options.command, ...options.args], {
      detached: true,
      stdio: ['pipe', logFd, logFd],
      env: options.env ?? process.env,
    });
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${options.name} (${options.command})`);
  installHandlers();
  liveGroups.add(pid);
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      liveGroups.delete(pid);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  // The watchdog's stdin pipe stays open for the life of this process but must not keep it alive.
  const stdin: unknown = child.stdin;
  child.stdin?.on('error', () => undefined);
  if (stdin !== null && typeof stdin === 'object' && 'unref' in stdin && typeof stdin.unref === 'function') {
    stdin.unref();
  }
  child.unref();

  return {
    name: options.name,
    pid,
    exited,
    running: () => !done,
    logTail: (lines = 25) => readTail(options.logPath, lines),
    async stop(graceMs = 10_000) {
      if (done) return;
      signalGroup(pid, 'SIGTERM', false);
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL', true), graceMs);
      await exited;
      clearTimeout(timer);
      // The watchdog has reaped the binary; anything else left in the group goes now.
      signalGroup(pid, 'SIGKILL', true);
    },
    async kill() {
      signalGroup(pid, 'SIGKILL', true);
      await exited;
    },
  };
}

/** Registers a directory that must be gone when the test process ends, however it ends. */
export function registerTempDir(dir: string): () => void {
  installHandlers();
  tempDirs.add(dir);
  return () => {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
}

/** True while any process of the group led by `pgid` exists. */
export function isGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals, wholeGroup: boolean): void {
  try {
    process.kill(wholeGroup ? -pid : pid, signal);
  } catch {
    // Already gone.
  }
}

function readTail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

let handlersInstalled = false;

function killEverythingNow(): void {
  for (const pid of liveGroups) signalGroup(pid, 'SIGKILL', true);
  liveGroups.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', killEverythingNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      killEverythingNow();
      // Someone else (e.g. the demo) handles this signal too: let them decide how to exit.
      if (process.listenerCount(signal) === 0) process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once(signal, onSignal);
  }
}
