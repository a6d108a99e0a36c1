/**
 * Thoth rejects a POST body over 3 MiB. The errors worth analysing sit at a log's end, so a larger log is cut from the front and
 * the cut is said on the first line that remains.
 */
import type { BuildAnalysisBody } from './requests.js';

export const THOTH_MAX_BODY_BYTES = 3 * 1024 * 1024;

export interface EncodedBody {
  readonly json: string;
  readonly bytes: number;
  /** UTF-8 bytes of log removed from the front (0 = the whole log was sent). */
  readonly logBytesCut: number;
}

/** The first line of a cut log; the number is the UTF-8 bytes removed. */
export function cutMarker(bytesCut: number): string {
  return `[build-watcher: the first ${bytesCut} bytes of this log were cut to fit Thoth's request size limit]\n`;
}

/** Bytes `char` (one code point) takes once JSON.stringify has escaped and UTF-8 encoded it. */
function encodedSize(codePoint: number): number {
  if (codePoint === 0x22 || codePoint === 0x5c) return 2; // \" and \\
  if (codePoint === 0x08 || codePoint === 0x09 || codePoint === 0x0a || codePoint === 0x0c || codePoint === 0x0d) return 2;
  if (codePoint < 0x20) return 6; // \u00XX
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return 6; // a lone surrogate is escaped as \uXXXX
  if (codePoint < 0x10000) return 3;
  return 4;
}

/** How far into the log a following line break may be looked for, to keep whole lines. */
const LINE_SEARCH_CHARS = 4096;

/** Where the longest tail of `log` that fits `budget` once escaped starts, moved to a line start shortly after. */
function tailStart(log: string, budget: number): number {
  let used = 0;
  let index = log.length;
  while (index > 0) {
    let start = index - 1;
    const low = log.charCodeAt(start);
    if (low >= 0xdc00 && low <= 0xdfff && start > 0) {
      const high = log.charCodeAt(start - 1);
      if (high >= 0xd800 && high <= 0xdbff) start -= 1;
    }
    const size = encodedSize(log.codePointAt(start) ?? 0);
    if (used + size > budget) break;
    used += size;
    index = start;
  }
  if (index === 0) return 0;
  const lineBreak = log.indexOf('\n', index - 1);
  if (lineBreak !== -1 && lineBreak + 1 < log.length && lineBreak - index < LINE_SEARCH_CHARS) return lineBreak + 1;
  return index;
}

/** Serialises the body to fit `limitBytes`, cutting the log's front; a RangeError when even no log fits. */
export function encodeBuildAnalysisBody(body: BuildAnalysisBody, limitBytes = THOTH_MAX_BODY_BYTES): EncodedBody {
  const whole = JSON.stringify(body);
  const wholeBytes = Buffer.byteLength(whole);
  const buildLog = body.build_log;
  if (wholeBytes <= limitBytes) return { json: whole, bytes: wholeBytes, logBytesCut: 0 };
  if (buildLog === undefined) throw new RangeError(`the build-analysis body is ${wholeBytes} bytes, over ${limitBytes}`);

  const log = buildLog.log;
  const logBytes = Buffer.byteLength(log);
  const overhead = Buffer.byteLength(JSON.stringify({ ...body, build_log: { ...buildLog, log: '' } }));
  const markerBudget = Buffer.byteLength(JSON.stringify(cutMarker(logBytes))) - 2;
  const budget = limitBytes - overhead - markerBudget;
  if (budget < 0) throw new RangeError(`the build-analysis body does not fit in ${limitBytes} bytes even without a log`);

  const start = tailStart(log, budget);
  const logBytesCut = logBytes - Buffer.byteLength(log.slice(start));
  const json = JSON.stringify({ ...body, build_log: { ...buildLog, log: cutMarker(logBytesCut) + log.slice(start) } });
  return { json, bytes: Buffer.byteLength(json), logBytesCut };
}
