/**
 * Shipwright BuildRun (shipwright.io/v1beta1): a successful run's image is `status.output.digest` (written only when the build
 * strategy emits `shp-image-digest`) pinned onto the image the run pushed to.
 *
 * Where it pushed to, first match wins:
 * 1. `spec.output.image`: Shipwright's buildrun docs say it "will overwrite the output.image value defined in Build", and the
 *    TaskRun is generated with it;
 * 2. `status.buildSpec.output.image`: the snapshot of the Build's own spec, taken *without* the BuildRun's overrides (the
 *    reconciler copies `build.Spec` as is);
 * 3. `spec.build.spec.output.image`: an embedded Build (overrides are then forbidden), for a run whose status snapshot is
 *    missing.
 */
import type { PinnedImage } from '../domain/built-image.js';
import { digestProblem } from '../domain/image-reference.js';
import { isRecord, sourceRef, type KubeObject } from '../kube/object.js';
import { isCommitId, pinImage, runCompletion, SkipList, type RunExtraction } from './run.js';

const OUTPUT_IMAGE_PATHS = [['spec', 'output', 'image'], ['status', 'buildSpec', 'output', 'image'],
  ['spec', 'build', 'spec', 'output', 'image']] as const;

function at(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const key of path) value = isRecord(value) ? value[key] : undefined;
  return value;
}

/** Reads a BuildRun; never throws. */
export function extractShipwrightImage(object: KubeObject): RunExtraction {
  const raw = object.raw;
  const ref = sourceRef(object);
  const completion = runCompletion(ref, raw['status']);
  if ('unfinished' in completion) return completion.unfinished;

  const skipped = new SkipList();
  // `status.source.git.commitSha`: the commit the run's source step cloned (v1beta1; v1alpha1 had a list, `sources`).
  const commit = at(raw, ['status', 'source', 'git', 'commitSha']);
  const revision = isCommitId(commit) ? commit : undefined;
  const done = (images: readonly PinnedImage[] = []): RunExtraction =>
    ({ state: 'succeeded', ref, outcome: completion.outcome, images, skipped: skipped.toArray(), ...(revision !== undefined ? { revision } : {}) });

  const digest = at(raw, ['status', 'output', 'digest']);
  if (digest === undefined || digest === null || digest === '') {
    skipped.add('status.output.digest', 'absent: the build strategy does not report the image digest');
    return done();
  }
  const digestIssue = typeof digest === 'string' ? digestProblem(digest.trim()) : 'expected a string';
  if (digestIssue !== undefined || typeof digest !== 'string') {
    skipped.add('status.output.digest', digestIssue ?? 'expected a string');
    return done();
  }

  let image: string | undefined;
  for (const path of OUTPUT_IMAGE_PATHS) {
    const candidate = at(raw, path);
    if (typeof candidate === 'string' && candidate.trim() !== '') {
      image = candidate.trim();
      break;
    }
  }
  if (image === undefined) {
    skipped.add('output image', 'none of spec.output.image, status.buildSpec.output.image, spec.build.spec.output.image is set');
    return done();
  }
  const pinned = pinImage(image, digest.trim());
  if (!pinned.ok) {
    skipped.add('output image', pinned.why);
    return done();
  }
  return done([pinned.image]);
}
