/**
 * CDEvents (the CD Foundation's CloudEvents vocabulary for CI/CD) for the images an object built: artifact.published for every
 * output image pinned by digest, artifact.packaged too when the object names the commit it was built from. Spec v0.3.0, whose
 * artifact events are version 0.1.1: the newest the official SDK (dev.cdevents:cdevents-sdk-java 0.3.1) embeds and validates,
 * and so what Java consumers built on it (Spinnaker, the Jenkins plugin) accept. The README's "CDEvents" says more.
 */
import type { PinnedImage, SourceObjectRef } from '../domain/built-image.js';
import { formatImageReference } from '../domain/image-reference.js';
import { apiPath } from '../kube/object.js';
import { eventId } from './event-id.js';
import type { OutgoingEvent } from './sink.js';
import { REPLY_SOURCE } from './types.js';

export const CDEVENTS_SPEC_VERSION = '0.3.0';
export const CDEVENT_TYPES = { published: 'dev.cdevents.artifact.published.0.1.1', packaged: 'dev.cdevents.artifact.packaged.0.1.1' } as const;
export type CDEventKind = keyof typeof CDEVENT_TYPES;
export const CDEVENT_KINDS: readonly CDEventKind[] = ['published', 'packaged'];

/** One image an object built, with what the events say about it. */
export interface ArtifactFacts {
  readonly object: SourceObjectRef;
  readonly image: PinnedImage;
  readonly revision?: string;
  /** Thoth's, when it was submitted to Thoth. */
  readonly analysisIds?: { readonly output?: string; readonly base?: string; readonly buildLog?: string };
}

/**
 * The purl-spec's `oci` type: the name is the repository's last segment, lowercased; the version is the digest with its colon
 * percent-encoded; `repository_url` is the repository without the name's case folded. As the oci type's own examples (and the
 * CDEvents spec's) write it, the qualifier's slashes and a registry port's colon stay as they are.
 */
export function ociPurl(image: PinnedImage): string {
  const name = (image.repository.split('/').pop() ?? image.repository).toLowerCase();
  return `pkg:oci/${encodeURIComponent(name)}@${image.digest.replace(':', '%3A')}?repository_url=${image.registry}/${image.repository}`;
}

/**
 * Everything the subject's content has no field for: `content` allows only `sbom` and `user` (and in 0.3.0, nothing else).
 * `image` is the reference a scanner pulls (`registry/repository@sha256:<hex>`), which the purl encodes beyond a template's reach.
 */
function customData({ object, image, analysisIds }: ArtifactFacts): Record<string, unknown> {
  const ids = analysisIds !== undefined && Object.keys(analysisIds).length > 0 ? { analysisIds: { ...analysisIds } } : {};
  return {
    object: { apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name, uid: object.uid },
    image: formatImageReference(image),
    ...ids,
  };
}

/**
 * The events for one image, in the order they are sent. The CloudEvent's `type`, `source` and `id` are the CDEvent context's and
 * its `subject` the artifact's purl, as the CDEvents CloudEvents binding says; the id is the stable one of functions/events/event-id.ts.
 */
export function artifactEvents(facts: ArtifactFacts, kinds: readonly CDEventKind[], now: Date): readonly OutgoingEvent[] {
  const purl = ociPurl(facts.image);
  return kinds.flatMap((kind) => {
    if (kind === 'packaged' && facts.revision === undefined) return [];
    const type = CDEVENT_TYPES[kind];
    const id = eventId({ type, subject: apiPath(facts.object), uid: facts.object.uid, facts: [facts.image.digest] });
    const content = kind === 'packaged' && facts.revision !== undefined ? { change: { id: facts.revision } } : {};
    const data = {
      context: { version: CDEVENTS_SPEC_VERSION, id, source: REPLY_SOURCE, type, timestamp: now.toISOString() },
      subject: { id: purl, type: 'artifact', content },
      customData: customData(facts),
      customDataContentType: 'application/json',
    };
    return [{ id, type, source: REPLY_SOURCE, subject: purl, data }];
  });
}
