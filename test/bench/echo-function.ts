/** The ceiling for the event benchmark: the same runtime, a handler that only echoes. */
export function handle(_context: unknown, event?: { data?: unknown }): unknown {
  return event?.data ?? '';
}
