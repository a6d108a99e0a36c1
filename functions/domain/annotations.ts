/**
 * The marker annotations the function writes on the objects it acts on (tektoncd/chains style). They are re-read
 * live before acting, so replays, later update events and adapter restarts cost one GET and no resubmission.
 */
const PREFIX = 'build-watcher.thoth-station.ninja';

export const ANNOTATIONS = {
  /** RFC 3339 time of the successful submission; its presence means "done". */
  submittedAt: `${PREFIX}/submitted-at`,
  /** The digest-pinned output reference that was submitted (the pushed copy, if any). */
  outputImage: `${PREFIX}/output-image`,
  /** The base image reference that was submitted. */
  baseImage: `${PREFIX}/base-image`,
  /** JSON: Thoth analysis ids, e.g. {"output":"package-extract-…","base":…,"buildLog":…}. */
  analysisIds: `${PREFIX}/analysis-ids`,
  /** A short lease `<holder> <RFC 3339 expiry>`, taken with an optimistic-concurrency patch so racing replicas submit once. */
  claim: `${PREFIX}/claim`,
  /** When the sweep last saw this object refused (by Thoth, a registry, or invalid): left for a day, so refused objects cannot fill every batch. */

  sweepRefusedAt: `${PREFIX}/sweep-refused-at`,
  /** ImageStreams: JSON {tag: [recent digests]}, bounded. */
  submittedImages: `${PREFIX}/submitted-images`,
} as const;
