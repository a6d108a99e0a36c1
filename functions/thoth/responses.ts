/**
 * Thoth's answers, validated at the boundary into typed values. Problems name the field, never its value: the 202 of /analyze
 * echoes the registry password in `parameters`.
 */
import { isRecord } from '../kube/object.js';
import { redact } from '../observability/redact.js';

/**
 * Thoth's ids, as thoth-common's generate_id makes them: `<name>-<yymmddhhmmss>-<16 hex>`, e.g.
 * `package-extract-220106085109-984feaa8a3862285`. An id of another shape, or one holding a secret, is not shown to anyone: it
 * is replaced by WITHHELD_ANALYSIS_ID (Thoth still accepted the submission, so it is not refused for that).
 */
const ANALYSIS_ID = /^[a-z][a-z0-9]{0,39}(?:-[a-z0-9]{1,40}){0,4}-\d{12}-[0-9a-f]{16}$/;
export const WITHHELD_ANALYSIS_ID = 'withheld-not-a-thoth-analysis-id';

const shownId = (id: string): string => (ANALYSIS_ID.test(id) && redact(id) === id ? id : WITHHELD_ANALYSIS_ID);

export interface AnalysisTicket {
  readonly analysisId: string;
  readonly cached: boolean;
}

export interface BuildAnalysisResult {
  readonly base?: AnalysisTicket;
  readonly output?: AnalysisTicket;
  /** Only when a log was sent: Thoth hands out a parser id even when none was. */
  readonly buildLog?: AnalysisTicket;
  readonly buildLogDocumentId?: string;
}

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

class ShapeProblem extends Error {}

function ticket(value: unknown, field: string): AnalysisTicket | undefined {
  if (value === null || value === undefined) return undefined;
  if (!isRecord(value)) throw new ShapeProblem(`${field} is not an object`);
  const analysisId = value['analysis_id'];
  const cached = value['cached'];
  if (typeof analysisId !== 'string' || analysisId === '') throw new ShapeProblem(`${field}.analysis_id is not a non-empty string`);
  if (typeof cached !== 'boolean') throw new ShapeProblem(`${field}.cached is not a boolean`);
  return { analysisId: shownId(analysisId), cached };
}

function nullableString(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new ShapeProblem(`${field} is not a string`);
  return value;
}

function parse<T>(read: () => T): Parsed<T> {
  try {
    return { ok: true, value: read() };
  } catch (error) {
    if (error instanceof ShapeProblem) return { ok: false, problem: error.message };
    throw error;
  }
}

/** The 202 of POST /build-analysis. `logSent` drops the parser id Thoth invents without a log. */
export function parseBuildAnalysisResponse(body: unknown, logSent: boolean): Parsed<BuildAnalysisResult> {
  return parse(() => {
    if (!isRecord(body)) throw new ShapeProblem('the body is not a JSON object');
    const base = ticket(body['base_image_analysis'], 'base_image_analysis');
    const output = ticket(body['output_image_analysis'], 'output_image_analysis');
    const buildLog = ticket(body['buildlog_analysis'], 'buildlog_analysis');
    const documentId = nullableString(body['buildlog_document_id'], 'buildlog_document_id');
    if (logSent && buildLog === undefined) throw new ShapeProblem('buildlog_analysis is missing although a log was sent');
    return {
      ...(base !== undefined ? { base } : {}),
      ...(output !== undefined ? { output } : {}),
      ...(logSent && buildLog !== undefined ? { buildLog } : {}),
      ...(documentId !== null ? { buildLogDocumentId: documentId } : {}),
    };
  });
}

/** The 202 of POST /analyze. */
export function parseImageAnalysisResponse(body: unknown): Parsed<AnalysisTicket> {
  return parse(() => {
    const value = ticket(body, 'the body');
    if (value === undefined) throw new ShapeProblem('the body is not an object');
    return value;
  });
}

/** The answer to GET /api/v1: the route list. */
export function parseDiscovery(body: unknown): Parsed<readonly string[]> {
  return parse(() => {
    if (!isRecord(body)) throw new ShapeProblem('the body is not a JSON object');
    const paths = body['paths'];
    if (!Array.isArray(paths) || !paths.every((path) => typeof path === 'string')) throw new ShapeProblem('paths is not a list of strings');
    return paths as readonly string[];
  });
}
