/**
 * STAND-IN for what OpenShift's `GET …/builds/{name}/log` does with its query (BuildLogOptions in openshift/api
 * build/v1/types.go, passed on to the pod's log as the kubelet reads it): `tailLines` keeps the last n lines (a last line
 * without its newline counts as one; 0 keeps nothing), then `limitBytes` keeps the first n bytes of that, cutting through a
 * line if it must. A value that is not a whole number in range is a 400, as the API server's validation answers. The API
 * front (api-front.ts), the unit tests' log servers and the log benchmark all answer through this one function.
 */
export type BuildLogSelection = { readonly start: number; readonly end: number } | { readonly invalid: string };

/** Which bytes of a log of `size` bytes the query selects; `lineStartBefore(n)` finds where the last n lines begin. */
export function selectBuildLog(query: URLSearchParams, size: number, lineStartBefore: (lines: number) => number): BuildLogSelection {
  const tail = query.get('tailLines');
  const limit = query.get('limitBytes');
  if (tail !== null && !/^\d{1,15}$/.test(tail)) return { invalid: 'tailLines: must be greater than or equal to 0' };
  if (limit !== null && (!/^\d{1,15}$/.test(limit) || Number(limit) < 1)) return { invalid: 'limitBytes: must be greater than 0' };
  const start = tail === null ? 0 : lineStartBefore(Number(tail));
  const end = limit === null ? size : Math.min(size, start + Number(limit));
  return { start, end };
}

/** Where the last `lines` lines of `log` begin. */
export function lastLinesStart(log: Buffer, lines: number): number {
  if (lines === 0) return log.length;
  // A final newline ends the last line; it does not start another.
  let at = log.length > 0 && log[log.length - 1] === 0x0a ? log.length - 1 : log.length;
  for (let found = 0; found < lines; found++) {
    const newline = at === 0 ? -1 : log.lastIndexOf(0x0a, at - 1);
    if (newline < 0) return 0;
    at = newline;
  }
  return at + 1;
}

/** The answer for a log held whole in memory: the bytes to send, or the 400's reason. */
export function buildLogAnswer(query: URLSearchParams, log: Buffer): Buffer | { readonly invalid: string } {
  const selected = selectBuildLog(query, log.length, (lines) => lastLinesStart(log, lines));
  return 'invalid' in selected ? selected : log.subarray(selected.start, selected.end);
}
