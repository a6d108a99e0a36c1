/**
 * The function's answers, made at the edge: the CloudEvents it replies with (published back into the Broker,
 * so any analyser, not only Thoth, can consume them) and the plain HTTP answers faas-js-runtime sends as they are.
 */
import { randomUUID } from 'node:crypto';
import type { CloudEvent } from 'cloudevents';
import type { StructuredReturn } from 'faas-js-runtime';
import type { SourceObjectRef } from './domain/built-image.js';
import { formatImageReference } from './domain/image-reference.js';
import { artifactEvents, type CDEventKind } from './events/cdevents.js';
import { eventId } from './events/event-id.js';
import type { OutgoingEvent } from './events/sink.js';
import { ANALYSIS_REFUSED_TYPE, ANALYSIS_SUBMITTED_TYPE, IMAGE_BUILT_TYPE, REPLY_SOURCE, SWEEP_COMPLETED_TYPE } from './events/types.js';
import { apiPath, objectLabel, type ObjectCoordinates } from './kube/object.js';
import { redact, redactValue } from './observability/redact.js';
import type { Outcome } from './pipeline/outcome.js';
import { describeSweep } from './sweep/describe.js';
import type { SweepSummary } from './sweep/tally.js';

export type HttpAnswer = StructuredReturn & { readonly statusCode: number; readonly body: string };

/** One line saying why; Knative keeps it in the dead-letter event's knativeerrordata. */
export function answer(statusCode: number, reason: string): HttpAnswer {
  return { statusCode, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `${redact(reason).split('\n')[0] ?? ''}\n` };
}

/** Exactly the fields the replies' schemas name, whatever else the domain's reference grows. */
type ReplyObject = Pick<SourceObjectRef, 'apiVersion' | 'kind' | 'namespace' | 'name' | 'uid'>;
const replyObject = (o: ReplyObject): ReplyObject => ({ apiVersion: o.apiVersion, kind: o.kind, namespace: o.namespace, name: o.name, uid: o.uid });

export interface SubmissionReply {
  readonly object: ReplyObject;
  readonly outcome: string;
  readonly images: readonly { readonly output?: string; readonly base?: string; readonly analysisIds: { output?: string; base?: string; buildLog?: string };
    readonly cached: boolean }[];
}

/** knative/schemas/dev.build-watcher.image.built.json */
export interface ImageBuilt {
  readonly object: ReplyObject;
  readonly images: readonly { readonly output: string; readonly base?: string }[];
  readonly buildLog?: { readonly path: string };
}

export type Reply = CloudEvent<SubmissionReply | ImageBuilt | { object: ReplyObject; reason: string } | SweepSummary>;

/** The SDK loads on the first reply: the function scales to zero, and only submissions need it, so it stays off the start-up path. */
async function cloudEvent(type: string, data: NonNullable<Reply['data']>, id: string, object?: ObjectCoordinates): Promise<Reply> {
  const { CloudEvent } = await import('cloudevents');
  // Reasons and analysis ids are outside text; the Broker hands replies to any subscriber.
  const redacted = redactValue(data) as NonNullable<Reply['data']>;
  // The object's API path, as the ApiServerSource's own `subject` is.
  return new CloudEvent<NonNullable<Reply['data']>>({ id, type, source: REPLY_SOURCE, ...(object ? { subject: apiPath(object) } : {}), datacontenttype: 'application/json', data: redacted });
}

type Submitted = Extract<Outcome, { kind: 'submitted' }>;

/**
 * One id per object and images, whatever Thoth answered: a takeover's resubmission, answered from Thoth's cache
 * (`cached`, "already analyzed"), reports the same fact as the first submission, so it carries the same id.
 */
function submittedId(type: string, outcome: Submitted): string {
  const digestOf = (image: { readonly digest?: string } | undefined, submitted: string | undefined) => image?.digest ?? submitted ?? '';
  const images = outcome.images.map(({ image, submission }) => [digestOf(image.output, submission.output), digestOf(image.base, submission.base)] as const);
  // In code-unit order of output, then base: the same images in any order are the same fact.
  images.sort(([a, b], [c, d]) => (a < c ? -1 : a > c ? 1 : b < d ? -1 : b > d ? 1 : 0));
  return eventId({ type, subject: apiPath(outcome.object), uid: outcome.object.uid, facts: [images] });
}

/** The image.built data of a submission, or undefined when no output image is pinned by digest. */
export function imageBuilt(outcome: Submitted): ImageBuilt | undefined {
  const o = outcome.object;
  const images = outcome.images.flatMap(({ image }) => image.output?.digest === undefined ? []
    : [{ output: formatImageReference(image.output), ...(image.base?.digest !== undefined ? { base: formatImageReference(image.base) } : {}) }]);
  if (images.length === 0) return undefined;
  return { object: replyObject(o), images, ...(o.kind === 'Build' ? { buildLog: { path: apiPath(o, 'log') } } : {}) };
}

/** image.built as sent to K_SINK, with the same id as the reply that carries it without Thoth. */
export function imageBuiltEvent(outcome: Submitted): (OutgoingEvent & { readonly data: ImageBuilt }) | undefined {
  const data = imageBuilt(outcome);
  return data === undefined ? undefined
    : { id: submittedId(IMAGE_BUILT_TYPE, outcome), type: IMAGE_BUILT_TYPE, source: REPLY_SOURCE, subject: apiPath(data.object), data };
}

/** The CDEvents of a submission: for each output image pinned by digest, the ones image.built lists. */
export function cdEventsOf(outcome: Submitted, kinds: readonly CDEventKind[], now = new Date()): readonly OutgoingEvent[] {
  return outcome.images.flatMap(({ image, submission }) => {
    const output = image.output;
    if (output?.digest === undefined) return [];
    const facts = { object: outcome.object, image: { ...output, digest: output.digest }, analysisIds: submission.ids, ...(image.revision !== undefined ? { revision: image.revision } : {}) };
    return artifactEvents(facts, kinds, now);
  });
}

/** A reply for a submission (analysis.submitted, or image.built without an analyser) or a permanent refusal; busy objects get a 503. */
export async function replyFor(outcome: Outcome, analyzer = true): Promise<Reply | HttpAnswer | undefined> {
  if (outcome.kind === 'ignored') return undefined;
  const o = outcome.object;
  // Another live process holds it: come back later, so the Broker redelivers if that one fails.
  if (outcome.kind === 'busy') return answer(503, `${objectLabel(o)} is claimed by another process until ${outcome.until.toISOString()}`);
  const object = replyObject(outcome.object);
  if (outcome.kind === 'refused') {
    // The same refusal of the same object is one fact; another reason is another.
    const id = eventId({ type: ANALYSIS_REFUSED_TYPE, subject: apiPath(o), uid: outcome.object.uid, facts: [redact(outcome.reason)] });
    return cloudEvent(ANALYSIS_REFUSED_TYPE, { object, reason: outcome.reason }, id, o);
  }
  if (!analyzer) {
    const built = imageBuiltEvent(outcome);
    return built === undefined ? undefined : cloudEvent(built.type, built.data, built.id, built.data.object);
  }
  const images = outcome.images.map(({ submission }) => ({ ...(submission.output !== undefined ? { output: submission.output } : {}),
    ...(submission.base !== undefined ? { base: submission.base } : {}), analysisIds: { ...submission.ids }, cached: submission.cached }));
  return cloudEvent(ANALYSIS_SUBMITTED_TYPE, { object, outcome: outcome.images[0]?.image.outcome ?? '', images }, submittedId(ANALYSIS_SUBMITTED_TYPE, outcome), o);

}

/**
 * The summary, failures counted in it, as a 2xx: a sweep that ran is not a failed delivery, since the next scheduled
 * sweep picks up whatever it could not finish, and a Broker redelivering it would only repeat it. A numeric 503 only
 * when it could not run at all (no listing answered, nothing picked), so the Broker tries again.
 */
export async function replyForSweep(summary: SweepSummary): Promise<Reply | HttpAnswer> {
  if (summary.listingFailed && summary.picked === 0) return answer(503, describeSweep(summary));
  // A summary is about one run, not an object: a redelivered request runs again and counts other things, a fact of its own.
  return cloudEvent(SWEEP_COMPLETED_TYPE, summary, randomUUID());
}
