/** OpenShift Builds as a source kind of the pipeline. */
import { ANNOTATIONS } from '../domain/annotations.js';
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
        readImageStream: (namespace, name) =>
          context.store.read({ apiVersion: 'image.openshift.io/v1', kind: 'ImageStream', namespace, name }, context.signal),
        readBuildLog: (build) => context.store.readBuildLog(build, context.signal),
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
