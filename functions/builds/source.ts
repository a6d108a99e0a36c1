/** OpenShift Builds as a source kind of the pipeline. */
import { ANNOTATIONS } from '../domain/annotations.js';
import { BuildWatcherError } from '../errors.js';
import { isKubeStatus } from '../kube/api.js';
import type { KubeObject } from '../events/intake.js';
import type { ObjectAction } from '../events/types.js';
import type { PlanContext, Plan, SourceKind, SubmittedImage } from '../pipeline/source-kind.js';
import { parseBuild } from './build.js';
import { decideBuild, type WhatToSend } from './decide.js';
import type { CredentialPolicy } from '../pipeline/credentials.js';
import { resolveBuild } from './resolve.js';

export function buildSource(send: WhatToSend, credentials: CredentialPolicy): SourceKind {
  const decide = (object: KubeObject, action: ObjectAction) => {
    if (object.annotations[ANNOTATIONS.submittedAt] !== undefined) return { action: 'ignore' as const, reason: 'already-submitted' };
    return decideBuild(parseBuild(object), action, send);
  };
  return {
    prefilter(object, action) {
      const decision = decide(object, action);
      return decision.action === 'ignore' ? decision.reason : undefined;
    },
    async plan(live: KubeObject, action: ObjectAction, context: PlanContext): Promise<Plan> {
      const decision = decide(live, action);
      if (decision.action === 'ignore') return { kind: 'ignore', reason: decision.reason };
      const image = await resolveBuild(parseBuild(live), decision, credentials, {
        readImageStream: async (namespace, name) => {
          try {
            return await context.store.read({ apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', namespace, name }, context.signal);
          } catch (error) {
            // A stream the function may not read (another namespace, no RBAC): no base image,
            // rather than no analysis at all.
            if (isKubeStatus(error, 403)) return undefined;
            throw error;
          }
        },
        readBuildLog: async (build) => {
          try {
            return await context.store.readBuildLog(build, context.signal);
          } catch (error) {
            // No log to be had (a build that never got a pod, a pruned one, no RBAC): the
            // images are still worth analysing. Transient errors are retried as usual.
            if (!(error instanceof BuildWatcherError) || error.kind === 'transient') throw error;
            context.log.warn({ build: `${live.namespace}/${live.name}` }, `build log not sent: ${error.message}`);
            return undefined;
          }
        },
        warn: (message) => context.log.warn({ build: `${live.namespace}/${live.name}` }, message),
      });
      return { kind: 'analyse', images: [image] };
    },
    markAnnotations(_live: KubeObject, submitted: readonly SubmittedImage[], now: Date): Record<string, string> {
      const first = submitted[0]?.submission;
      return {
        [ANNOTATIONS.submittedAt]: now.toISOString(),
        ...(first?.output !== undefined ? { [ANNOTATIONS.outputImage]: first.output } : {}),
        ...(first?.base !== undefined ? { [ANNOTATIONS.baseImage]: first.base } : {}),
        [ANNOTATIONS.analysisIds]: JSON.stringify(first?.ids ?? {}),
      };
    },
  };
}
