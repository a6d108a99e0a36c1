/** OpenShift Builds as a source kind of the pipeline. */
import type { CredentialPolicy } from '../access/policy.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import { BuildWatcherError } from '../errors.js';
import type { ObjectAction } from '../events/types.js';
import type { SourceKind } from '../pipeline/source-kind.js';
import { parseBuild, type OpenShiftBuild } from './build.js';
import { decideBuild, type BuildDecision, type WhatToSend } from './decide.js';
import { resolveBuild } from './resolve.js';

export function buildSource(send: WhatToSend, credentials: CredentialPolicy): SourceKind {
  // Whether it is marked already is the ledger's (functions/ledger/), asked first.
  const decide = (build: OpenShiftBuild, action: ObjectAction): BuildDecision => decideBuild(build, action, send);
  return {
    read(object) {
      const build = parseBuild(object);
      const name = `${object.namespace}/${object.name}`;
      return {
        object,
        recordsRefusals: false,
        skipReason: (action) => {
          const decision = decide(build, action);
          return decision.action === 'ignore' ? decision.reason : undefined;
        },
        async plan(action, context) {
          const readLog = async (): Promise<string | undefined> => {
            try {
              return await context.store.readBuildLog(object, context.signal);
            } catch (error) {
              // No log to be had (a build that never got a pod, a pruned one, no RBAC): the images are still worth analysing.
              // Transient errors are retried as usual.
              if (!(error instanceof BuildWatcherError) || error.kind === 'transient') throw error;
              context.log.warn({ build: name }, `build log not sent: ${error.message}`);
              return undefined;
            }
          };
          const decision = decide(build, action);
          if (decision.action === 'ignore') return { kind: 'ignore', reason: decision.reason };
          // Read at once, beside the ImageStream and the claim (analyze.ts), and awaited only just before the submission.
          const log = decision.log ? readLog() : undefined;
          log?.catch(() => undefined);
          const image = await resolveBuild(build, decision, credentials, context, {
            readBuildLog: () => log ?? Promise.resolve(undefined),
            warn: (message) => (context.warn ?? ((text: string) => context.log.warn({ build: name }, text)))(message),
          });
          return { kind: 'analyze', images: [image] };
        },
        marks(submitted, now) {
          const first = submitted[0]?.submission;
          return {
            [ANNOTATIONS.submittedAt]: now.toISOString(),
            ...(first?.output !== undefined ? { [ANNOTATIONS.outputImage]: first.output } : {}),
            ...(first?.base !== undefined ? { [ANNOTATIONS.baseImage]: first.base } : {}),
            [ANNOTATIONS.analysisIds]: JSON.stringify(first?.ids ?? {}),
          };
        },
      };
    },
  };
}
