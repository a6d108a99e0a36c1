/**
 * Tekton runs and Shipwright BuildRuns as source kinds of the pipeline: a succeeded run's digest-pinned images go to POST
 * /build-analysis as output images (no base image, no log: a run has neither in a form Thoth reads), one submission per image.
 * Failed runs built no image and are ignored.
 *
 * Marks (same annotations as Builds): `submitted-at`; `output-image`, the submitted references joined by commas; `analysis-ids`,
 * the ids object of the one image, or a JSON array of them in the same order when the run built several. A run whose every image
 * another object submits (a PipelineRun's TaskRuns) is marked `submitted-at` alone: it is done too, and left unmarked, every
 * sweep would pick it again and a few hundred of them would fill each batch.
 */
import { imageAccess, NO_ACCESS, type CredentialPolicy } from '../access/policy.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import type { BuiltImage, PinnedImage } from '../domain/built-image.js';
import { invalid } from '../errors.js';
import type { ObjectAction } from '../events/types.js';
import { objectLabel, sourceRef, type KubeObject } from '../kube/object.js';
import type { PlanContext, SourceKind } from '../pipeline/source-kind.js';
import type { RunExtraction } from './run.js';

export interface RunSourceOptions {
  /** THOTH_BUILD_ANALYSIS_NO_OUTPUT_IMAGE off: a run has nothing else to send. */
  readonly sendOutputImage: boolean;
  readonly credentials: CredentialPolicy;
}

type Succeeded = Extract<RunExtraction, { state: 'succeeded' }>;

/** Drops images another object submits; may read the API (a PipelineRun's TaskRuns). */
export type Narrow = (live: KubeObject, images: readonly PinnedImage[], context: PlanContext) => Promise<readonly PinnedImage[]>;

function decide(object: KubeObject, run: RunExtraction, action: ObjectAction, options: RunSourceOptions): Succeeded | string {
  if (action === 'delete') return 'deleted';
  if (!options.sendOutputImage) return 'nothing-to-send';
  switch (run.state) {
    case 'invalid':
      throw invalid(`${objectLabel(object)}: ${run.why}`, 422);
    case 'running':
      return 'not-finished';
    case 'failed':
      return 'failed';
    case 'succeeded':
      return run.images.length === 0 ? 'no-images' : run;
  }
}

export function runSource(extract: (object: KubeObject) => RunExtraction, options: RunSourceOptions, narrow?: Narrow): SourceKind {
  const { credentials } = options;
  const builtImage = async (live: KubeObject, run: Succeeded, image: PinnedImage, context: PlanContext): Promise<BuiltImage> => ({
    source: sourceRef(live), output: image, outcome: run.outcome, analysis: 'build', ...(run.revision !== undefined ? { revision: run.revision } : {}),
    outputAccess: await imageAccess(image, 'output', live, credentials, context), baseAccess: NO_ACCESS,
  });

  return {
    read(object) {
      const run = extract(object);
      return {
        object,
        recordsRefusals: false,
        skipReason(action) {
          const decision = decide(object, run, action, options);
          return typeof decision === 'string' ? decision : undefined;
        },
        async plan(action, context) {
          const succeeded = decide(object, run, action, options);
          if (typeof succeeded === 'string') return { kind: 'ignore', reason: succeeded };
          for (const { name: result, why } of succeeded.skipped) context.log.debug({ object: objectLabel(object), result }, `result not used: ${why}`);
          const images = narrow === undefined ? succeeded.images : await narrow(object, succeeded.images, context);
          if (images.length === 0) return { kind: 'mark', reason: 'images-submitted-elsewhere' };
          const built: BuiltImage[] = [];
          for (const image of images) built.push(await builtImage(object, succeeded, image, context));
          return { kind: 'analyze', images: built };
        },
        marks(submitted, now) {
          const outputs = submitted.flatMap(({ submission }) => (submission.output !== undefined ? [submission.output] : []));
          const ids = submitted.map(({ submission }) => submission.ids);
          return {
            [ANNOTATIONS.submittedAt]: now.toISOString(),
            ...(outputs.length > 0 ? { [ANNOTATIONS.outputImage]: outputs.join(',') } : {}),
            ...(ids.length > 0 ? { [ANNOTATIONS.analysisIds]: JSON.stringify(ids.length === 1 ? ids[0] : ids) } : {}),
          };
        },
      };
    },
  };
}
