/**
 * The command line's stderr: log lines (redacted, like every log of the function) and, on a terminal, one progress line kept at
 * the bottom. Off a terminal, logs are JSON lines and progress is an occasional log line.
 */
import { logFields, logLine, type LogFields, type Logger } from '../observability/logger.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

export interface TerminalOutput { write(text: string): void; readonly isTTY: boolean }

function describeFields(fields: LogFields): string {
  return Object.entries(logFields(fields) as Record<string, unknown>)
    .filter(([, value]) => typeof value !== 'object' || value === null)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
}

export class Terminal {
  readonly log: Logger;
  #progress = '';
  #lastProgressLine = 0;

  constructor(private readonly output: TerminalOutput, level: Level) {
    const threshold = LEVELS.indexOf(level);
    const emit = (name: Level) => (fields: LogFields, message: string) => {
      if (LEVELS.indexOf(name) < threshold) return;
      if (!output.isTTY) {
        const record = { level: name, time: new Date().toISOString(), ...(logFields(fields) as object), msg: logLine(message) };
        output.write(`${JSON.stringify(record)}\n`);
        return;
      }
      const time = new Date().toTimeString().slice(0, 8);
      const details = describeFields(fields);
      this.#clear();
      output.write(`${time} ${name.padEnd(5)} ${logLine(message)}${details === '' ? '' : `  (${details})`}\n`);
      this.#draw();
    };
    this.log = { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
  }

  /** Replaces the progress line (a log line at most every few seconds off a terminal). */
  progress(text: string): void {
    if (!this.output.isTTY) {
      const now = Date.now();
      if (now - this.#lastProgressLine < 5000) return;
      this.#lastProgressLine = now;
      this.log.info({}, text);
      return;
    }
    this.#clear();
    this.#progress = text;
    this.#draw();
  }

  /** Ends the progress line, leaving it on screen. */
  done(): void {
    if (this.output.isTTY && this.#progress !== '') this.output.write('\n');
    this.#progress = '';
  }

  #clear(): void { if (this.#progress !== '') this.output.write('\r\x1b[K'); }

  #draw(): void { if (this.#progress !== '') this.output.write(this.#progress); }
}
