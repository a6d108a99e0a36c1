/**
 * The CloudEvent the function answers each submission with, so that any analyser, not only
 * Thoth, can consume "this image was built and submitted" from the Broker.
 */
import type { CloudEvent } from 'cloudevents';
import type { Outcome } from '../pipeline/analyse.js';
import { pluralOf, type ObjectCoordinates } from './intake.js';
import { ANALYSIS_REFUSED_TYPE, ANALYSIS_SUBMITTED_TYPE, REPLY_SOURCE } from './types.js';

export interface SubmissionReply {
  readonly object: { apiVersion: string; kind: string; namespace: string; name: string; uid: string };
  readonly outcome: string;
  readonly images: readonly {
    readonly output?: string;
    readonly base?: string;
    readonly analysisIds: { output?: string; base?: string; buildLog?: string };
    readonly cached: boolean;
  }[];
}

/** The object's API path, as the ApiServerSource's own `subject` is. */
function subjectOf(object: ObjectCoordinates): string {
  return `/apis/${object.apiVersion}/namespaces/${object.namespace}/${pluralOf(object)}/${object.name}`;
}

/**
 * A reply for a submission or a permanent refusal; nothing for ignored events.
 * The SDK is loaded on the first reply: the function scales to zero, and only events that
 * led to a submission need it, so it stays off the start-up and filtering paths.
 */
export async function replyFor(outcome: Outcome): Promise<CloudEvent<SubmissionReply | { object: SubmissionReply['object']; reason: string }> | undefined> {
  if (outcome.kind === 'ignored') return undefined;
  const { CloudEvent } = await import('cloudevents');
  const o = outcome.object;
  const object = { apiVersion: o.apiVersion, kind: o.kind, namespace: o.namespace, name: o.name, uid: o.uid };
  if (outcome.kind === 'refused') {
    return new CloudEvent({
      type: ANALYSIS_REFUSED_TYPE,
      source: REPLY_SOURCE,
      subject: subjectOf(o),
      datacontenttype: 'application/json',
      data: { object, reason: outcome.reason },
    });
  }
  return new CloudEvent({
    type: ANALYSIS_SUBMITTED_TYPE,
    source: REPLY_SOURCE,
    subject: subjectOf(o),
    datacontenttype: 'application/json',
    data: {
      object,
      outcome: outcome.images[0]?.image.outcome ?? '',
      images: outcome.images.map(({ submission }) => ({
        ...(submission.output !== undefined ? { output: submission.output } : {}),
        ...(submission.base !== undefined ? { base: submission.base } : {}),
        analysisIds: { ...submission.ids },
        cached: submission.cached,
      })),
    },
  });
}
