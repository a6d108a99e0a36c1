/** Sends one BuiltImage to Thoth: POST /build-analysis, or /analyze for a lone image. */
import { resolveCredentials } from '../access/token-file.js';
import type { BuiltImage, ImageAccess, ImageReference } from '../domain/built-image.js';
import { formatImageReference } from '../domain/image-reference.js';
import { BuildWatcherError, invalid, refused } from '../errors.js';
import type { AnalysisOptions, ImageSubmission } from '../thoth/requests.js';
import type { Submission } from './outcome.js';
import type { Submitter } from './ports.js';

async function asSubmission(image: ImageReference, access: ImageAccess): Promise<ImageSubmission> {
  if (access.refused !== undefined) throw refused(access.refused);
  const resolved = await resolveCredentials(access.credentials);
  return { image: formatImageReference(image), ...(resolved !== undefined ? { credentials: resolved } : {}), verifyTls: access.verifyTls };
}

/**
 * Called immediately before each request to Thoth: throws when the object's claim is no longer
 * ours. A request once sent is never aborted (no signal reaches Thoth's client): an abort cannot
 * take it back, and only its answer says whether Thoth took it. The client's timeout bounds it;
 * a delivery that ends first is answered 503 while the work goes on (ledger/running.ts).
 */
export type Fence = () => Promise<void>;

/**
 * Thoth stops at the first image it cannot inspect. A base image it may not pull (say, from a
 * registry that needs credentials nobody gave) must not cost the analysis of the output image
 * and the log: those are sent again without it, and the refusal is kept for the Event.
 */
export async function submitBuiltImage(image: BuiltImage, submitter: Submitter | undefined, options: AnalysisOptions,
  fence: Fence = async () => undefined, onBaseRefused?: (reason: string) => void): Promise<Submission> {
  try {
    return await submitOnce(image, submitter, options, fence);
  } catch (error) {
    const baseOnly = error instanceof BuildWatcherError && error.kind === 'refused' && error.about === 'base-image';
    if (!baseOnly || image.base === undefined || (image.output === undefined && image.buildLog === undefined)) throw error;
    onBaseRefused?.(error.message);
    const { base: _base, ...withoutBase } = image;
    return submitOnce(withoutBase, submitter, options, fence);
  }
}

async function submitOnce(image: BuiltImage, submitter: Submitter | undefined, options: AnalysisOptions,
  fence: Fence): Promise<Submission> {
  // No analyser configured: the digest-pinned references are the result (announced as image.built).
  if (submitter === undefined) {
    return { ids: {}, cached: false, ...(image.output !== undefined ? { output: formatImageReference(image.output) } : {}), ...(image.base !== undefined ? { base: formatImageReference(image.base) } : {}) };
  }
  if (image.analysis === 'image') {
    if (image.output === undefined) throw invalid('an image analysis needs an image');
    const output = await asSubmission(image.output, image.outputAccess);
    await fence();
    const ticket = await submitter.submitImageAnalysis({ ...output, ...options });
    return { ids: { output: ticket.analysisId }, cached: ticket.cached, output: output.image };
  }
  const output = image.output === undefined ? undefined : await asSubmission(image.output, image.outputAccess);
  const base = image.base === undefined ? undefined : await asSubmission(image.base, image.baseAccess);
  const log = image.buildLog === undefined ? undefined : await image.buildLog();
  const source = image.source;
  await fence();
  const buildLog = log === undefined ? undefined : { log, apiVersion: source.apiVersion, metadata: `${source.namespace}/${source.name}` };
  const result = await submitter.submitBuildAnalysis({
    ...options,
    ...(output !== undefined ? { output } : {}),
    ...(base !== undefined ? { base } : {}),
    ...(buildLog !== undefined ? { buildLog } : {}),
  });
  const tickets = [result.output, result.base].filter((ticket) => ticket !== undefined);
  return {
    ids: {
      ...(result.output !== undefined ? { output: result.output.analysisId } : {}),
      ...(result.base !== undefined ? { base: result.base.analysisId } : {}),
      ...(result.buildLog !== undefined ? { buildLog: result.buildLog.analysisId } : {}),
    },
    cached: tickets.length > 0 && tickets.every((ticket) => ticket.cached),
    ...(output !== undefined ? { output: output.image } : {}),
    ...(base !== undefined ? { base: base.image } : {}),
  };
}
