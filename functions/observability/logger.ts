/**
 * Structured JSON logs through the runtime's pino logger, redacted at this one place. Modules log `(fields, message)`; nothing
 * reaches pino unredacted, and every string in a record is one line of at most MAX_LOG_TEXT characters: outside text (a peer's
 * error, a Build's log) costs a log line the same whatever its length.
 */
import { redactLine, redactValue } from './redact.js';

export const MAX_LOG_TEXT = 2048;
/** Items of a list or keys of an object a log record shows. */
const MAX_LOG_ITEMS = 50;
/** A string as every log (the function's and the command line's) writes it. */
export const logLine = (text: string): string => redactLine(text, MAX_LOG_TEXT);

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
}

/** The part of pino (and of faas-js-runtime's `context.log`) we rely on. */
export interface PinoLike {
  debug(object: unknown, message?: string): void;
  info(object: unknown, message?: string): void;
  warn(object: unknown, message?: string): void;
  error(object: unknown, message?: string): void;
}

/** A record's fields as every log writes them. */
export const logFields = (fields: LogFields): unknown => redactValue(fields, logLine, MAX_LOG_ITEMS);

export function redactingLogger(target: PinoLike): Logger {
  const emit = (level: keyof PinoLike) => (fields: LogFields, message: string) => { target[level](logFields(fields), logLine(message)); };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
