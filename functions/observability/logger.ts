/**
 * Structured JSON logs through the runtime's pino logger, redacted at this one place. Modules log `(fields, message)`; nothing
 * reaches pino unredacted.
 */
import { redact, redactValue } from './redact.js';

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

export function redactingLogger(target: PinoLike): Logger {
  const emit = (level: keyof PinoLike) => (fields: LogFields, message: string) => { target[level](redactValue(fields), redact(message)); };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}
