/**
 * The CDEvents consumer of test/cdevents-consumer (Java, the official cdevents-sdk-java) as a running process on 127.0.0.1,
 * port 0: what it received, and its verdict on each. test/prepare.sh builds it; build.sh only prints the cached directory then.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { registerTempDir, startProcess, type ManagedProcess } from './processes.js';
import { waitFor } from './wait.js';

/** One request as the consumer recorded it. */
export interface ConsumerRecord {
  readonly verdict: 'accepted' | 'rejected' | 'other';
  readonly status: number;
  readonly type?: string;
  readonly id?: string;
  readonly source?: string;
  readonly subject?: string;
  readonly why?: string;
  /** The CloudEvent's data, as sent. */
  readonly body?: string;
}

export interface CDEventsConsumer {
  /** e.g. `http://127.0.0.1:40123/` */
  readonly url: string;
  /** Every request so far, in arrival order. */
  records(): readonly ConsumerRecord[];
  /** The records once `done` holds for them, within the deadline. */
  waitFor(done: (records: readonly ConsumerRecord[]) => boolean, what: string, timeoutMs?: number): Promise<readonly ConsumerRecord[]>;
  stop(): Promise<void>;
}

const buildScript = new URL('../cdevents-consumer/build.sh', import.meta.url).pathname;

export async function startCDEventsConsumer(): Promise<CDEventsConsumer> {
  const { stdout } = await promisify(execFile)('bash', [buildScript], { maxBuffer: 1 << 20 });
  const dir = stdout.trim().split('\n').pop() ?? '';
  const logDir = mkdtempSync(join(tmpdir(), 'cdevents-consumer-'));
  const unregister = registerTempDir(logDir);
  const logPath = join(logDir, 'consumer.log');
  const process: ManagedProcess = startProcess({
    name: 'cdevents-consumer', command: 'java', args: ['-cp', `${dir}/cdevents-consumer.jar:${dir}/lib/*`, 'dev.buildwatcher.consumer.Main'], logPath,
  });
  const lines = () => readFileSync(logPath, 'utf8').split('\n');
  const records = () => lines().flatMap((line) => (line.startsWith('{') ? [JSON.parse(line) as ConsumerRecord] : []));
  const port = await waitFor(async () => lines().find((line) => line.startsWith('listening '))?.slice('listening '.length), {
    what: 'the CDEvents consumer to listen', timeoutMs: 60_000, onTimeout: () => process.logTail(),
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    records,
    waitFor: (done, what, timeoutMs = 60_000) =>
      waitFor(async () => { const all = records(); return done(all) ? all : undefined; }, { what, timeoutMs, intervalMs: 50, onTimeout: () => records().map(({ verdict, type, subject, why }) => `${verdict} ${type ?? ''} ${subject ?? ''} ${why ?? ''}`).join('\n') }),
    async stop() {
      await process.stop();
      rmSync(logDir, { recursive: true, force: true });
      unregister();
    },
  };
}
