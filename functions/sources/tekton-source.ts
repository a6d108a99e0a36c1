/**
 * Tekton TaskRuns and PipelineRuns as source kinds.
 *
 * One image, one submitter. A pipeline's images are usually reported twice: by the TaskRun that built them (buildah's
 * IMAGE_URL/IMAGE_DIGEST) and again by the PipelineRun, whose results are copied from its tasks'. The TaskRun is where the image
 * was built and always carries the result, so when TaskRuns are watched too, a PipelineRun submits only the images that none of
 * its child TaskRuns (`status.childReferences`, read live) reports; a child that cannot be read is assumed not to report
 * anything, so nothing is ever lost (at worst Thoth answers a duplicate from its cache). A TaskRun always submits its own images.
 */
import { imageKey } from '../domain/image-reference.js';
import { isRecord, objectLabel, type KubeObject } from '../kube/object.js';
import type { PlanContext, SourceKind } from '../pipeline/source-kind.js';
import { runSource, type RunSourceOptions } from './run-source.js';
import { extractTektonImages } from './tekton.js';

export interface TektonSourceOptions extends RunSourceOptions {
  /** Whether TaskRuns are a watched kind too (then they submit their own images). */
  readonly taskRunsSubmit: boolean;
}

/** A pipeline has tens of tasks, not thousands; a bigger list is not read child by child. */
const MAX_CHILDREN = 100;

function childTaskRuns(pipelineRun: KubeObject): string[] {
  const status = pipelineRun.raw['status'];
  const children = isRecord(status) ? status['childReferences'] : undefined;
  if (!Array.isArray(children)) return [];
  return children.flatMap((child: unknown) =>
    isRecord(child) && child['kind'] === 'TaskRun' && typeof child['name'] === 'string' ? [child['name']] : []);
}

async function imagesOfChildren(pipelineRun: KubeObject, context: PlanContext): Promise<Set<string>> {
  const keys = new Set<string>();
  const names = childTaskRuns(pipelineRun);
  if (names.length > MAX_CHILDREN) return keys;
  for (const name of names) {
    const ref = { apiVersion: pipelineRun.apiVersion, kind: 'TaskRun', namespace: pipelineRun.namespace, name };
    try {
      const child = await context.store.read(ref, context.signal);
      const run = child === undefined ? undefined : extractTektonImages(child);
      if (run?.state === 'succeeded') for (const image of run.images) keys.add(imageKey(image));
    } catch (error) {
      context.log.debug({ object: objectLabel(pipelineRun), taskRun: name }, `cannot read child TaskRun (${error instanceof Error ? error.message : 'unknown error'}); its images count as not submitted`);
    }
  }
  return keys;
}

export function tektonSource(options: TektonSourceOptions): SourceKind {
  return runSource(extractTektonImages, options, async (live, images, context) => {
    if (live.kind !== 'PipelineRun' || !options.taskRunsSubmit) return images;
    const fromTasks = await imagesOfChildren(live, context);
    return images.filter((image) => !fromTasks.has(imageKey(image)));
  });
}
