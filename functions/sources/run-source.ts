/**
 * Tekton runs and Shipwright BuildRuns as source kinds of the pipeline: a succeeded run's
 * digest-pinned images go to POST /build-analysis as output images (no base image, no log:
 * a run has neither in a form Thoth reads), one submission per image. Failed runs built no
 * image and are ignored.
 *
 * Marks (same annotations as Builds): `submitted-at`; `output-image`, the submitted
 * references joined by commas; `analysis-ids`, the ids object of the one image, or a JSON
 * array of them in the same order when the run built several. A run whose every image another
 * object submits (a PipelineRun's TaskRuns) is marked `submitted-at` alone: it is done too, and
 * left unmarked, every sweep would pick it again and a few hundred of them would fill each batch.
 */
import { ANNOTATIONS } from '../domain/annotations.js';
import type { BuiltImage, CredentialSource } from '../domain/built-image.js';
import { invalid } from '../errors.js';
import { type KubeObject, sourceRef } from '../events/intake.js';
import type { ObjectAction } from '../events/types.js';
import { clusterRegistryCredentials, hasClusterCredentials, type CredentialPolicy } from '../pipeline/credentials.js';
import type { Plan, PlanContext, SourceKind, SubmittedImage } from '../pipeline/source-kind.js';
import { isOnClusterRegistry } from './cluster-registry.js';
import { type PinnedImage, type RunExtraction } from './run.js';

export interface RunSourceOptions {
  /** THOTH_BUILD_ANALYSIS_NO_OUTPUT_IMAGE off: a run has nothing else to send. */
  readonly sendOutputImage: boolean;
  readonly credentials: CredentialPolicy;
}

type Succeeded = Extract<RunExtraction, { state: 'succeeded' }>;

/** Drops images another object submits; may read the API (a PipelineRun's TaskRuns). */
export type Narrow = (live: KubeObject, images: readonly PinnedImage[], context: PlanContext) => Promise<readonly PinnedImage[]>;

function decide(object: KubeObject, action: ObjectAction, options: RunSourceOptions, extract: (value: unknown) => RunExtraction): Succeeded | string {
  if (action === 'delete') return 'deleted';
  if (object.annotations[ANNOTATIONS.submittedAt] !== undefined) return 'already-submitted';
  if (!options.sendOutputImage) return 'nothing-to-send';
  const run = extract(object.raw);
  switch (run.state) {
    case 'invalid':
      throw invalid(`${object.kind} ${object.namespace}/${object.name}: ${run.why}`, 422);
    case 'running':
      return 'not-finished';
    case 'failed':
      return 'failed';
    case 'succeeded':
      return run.images.length === 0 ? 'no-images' : run;
  }
}

export function runSource(extract: (value: unknown) => RunExtraction, options: RunSourceOptions, narrow?: Narrow): SourceKind {
  const { credentials } = options;
  const builtImage = async (live: KubeObject, run: Succeeded, image: PinnedImage, context: PlanContext): Promise<BuiltImage> => {
    // Only the run's own namespace: a run must not get Thoth another tenant's private image.
    const onCluster =
      hasClusterCredentials(credentials) && image.repository.startsWith(`${live.namespace}/`) && (await isOnClusterRegistry(image, context));
    const outputCredentials: CredentialSource = clusterRegistryCredentials(credentials, onCluster);
    return {
      source: sourceRef(live),
      output: image,
      outcome: run.outcome,
      analysis: 'build',
      outputCredentials,
      baseCredentials: { kind: 'none' },
      outputVerifyTls: onCluster ? credentials.sourceRegistryVerifyTls : true,
      baseVerifyTls: true,
    };
  };

  return {
    prefilter(object, action) {
      const decision = decide(object, action, options, extract);
      return typeof decision === 'string' ? decision : undefined;
    },
    async plan(live: KubeObject, action: ObjectAction, context: PlanContext): Promise<Plan> {
      const run = decide(live, action, options, extract);
      if (typeof run === 'string') return { kind: 'ignore', reason: run };
      const object = `${live.kind} ${live.namespace}/${live.name}`;
      for (const { name, why } of run.skipped) context.log.debug({ object, result: name }, `result not used: ${why}`);
      const images = narrow === undefined ? run.images : await narrow(live, run.images, context);
      if (images.length === 0) return { kind: 'mark', reason: 'images-submitted-elsewhere' };
      const built: BuiltImage[] = [];
      for (const image of images) built.push(await builtImage(live, run, image, context));
      return { kind: 'analyse', images: built };
    },
    markAnnotations(_live: KubeObject, submitted: readonly SubmittedImage[], now: Date): Record<string, string> {
      const outputs = submitted.flatMap(({ submission }) => (submission.output !== undefined ? [submission.output] : []));
      const ids = submitted.map(({ submission }) => submission.ids);
      return {
        [ANNOTATIONS.submittedAt]: now.toISOString(),
        ...(outputs.length > 0 ? { [ANNOTATIONS.outputImage]: outputs.join(',') } : {}),
        ...(ids.length > 0 ? { [ANNOTATIONS.analysisIds]: JSON.stringify(ids.length === 1 ? ids[0] : ids) } : {}),
      };
    },
  };
}
