/**
 * ImageStreams as a source kind: every tag's current image that the stream's submitted-images annotation does not list yet goes
 * to POST /analyze, oldest first, at most MAX_IMAGES_PER_PASS at a time. Marking the stream changes it, which brings another
 * event (or the next sweep) for the rest, so one stream with hundreds of new tags never sends them all in one burst.
 *
 * THOTH_PASS_TOKEN's token goes only with images whose registry is the host this stream is served from
 * (`status.dockerImageRepository`, or the registry's public route); an imported tag still points at its source registry, and gets
 * no credentials.
 */
import { imageAccess, NO_ACCESS, type CredentialPolicy } from '../access/policy.js';
import { ANNOTATIONS } from '../domain/annotations.js';
import type { BuiltImage } from '../domain/built-image.js';
import { invalid } from '../errors.js';
import { objectLabel, sourceRef, type KubeObject } from '../kube/object.js';
import type { SourceKind } from '../pipeline/source-kind.js';
import { pendingImages, readImageStream, type ImageStreamRead } from './imagestream.js';
import { recordSubmitted } from './submitted-images.js';

const MAX_IMAGES_PER_PASS = 10;

export interface ImageStreamSourceOptions {
  readonly credentials: CredentialPolicy;
  readonly maxImagesPerPass?: number;
}

type Read = Extract<ImageStreamRead, { state: 'read' }>;

function readStream(object: KubeObject): Read {
  const read = readImageStream(object);
  if (read.state === 'invalid') throw invalid(`${objectLabel(object)}: ${read.why}`, 422);
  return read;
}

export function imageStreamSource(options: ImageStreamSourceOptions): SourceKind {
  const { credentials } = options;
  const perPass = options.maxImagesPerPass ?? MAX_IMAGES_PER_PASS;
  return {
    read(object) {
      const read = readStream(object);
      const pending = pendingImages(read.tags, read.submitted);
      const name = objectLabel(object);
      return {
        object,
        recordsRefusals: true,
        skipReason: (action) => (action === 'delete' ? 'deleted' : pending.length === 0 ? 'nothing-new' : undefined),
        async plan(action, context) {
          if (action === 'delete') return { kind: 'ignore', reason: 'deleted' };
          if (pending.length === 0) return { kind: 'ignore', reason: 'nothing-new' };
          for (const { name: tag, why } of read.skipped) context.log.debug({ object: name, tag }, `tag not used: ${why}`);
          const pass = pending.slice(0, perPass);
          if (pending.length > pass.length) {
            context.log.info({ object: name }, `${pending.length} new images; submitting the oldest ${pass.length} now, the rest after marking`);
          }
          const preview = recordSubmitted(read.submitted, read.tags, pass.map(({ image }) => image.digest));
          if (preview.abandoned.length > 0) {
            context.log.warn(
              { object: name, tags: preview.abandoned.slice(0, 20) },
              `the submitted-images record is full: ${preview.abandoned.length} older tags will not be submitted by later events`,
            );
          }
          // An imported tag still points at its source registry: it gets no credentials.
          const images: BuiltImage[] = [];
          for (const { image } of pass) {
            const outputAccess = await imageAccess(image, 'output', object, credentials, context, [object]);
            images.push({ source: sourceRef(object), output: image, outcome: 'Present', analysis: 'image', outputAccess, baseAccess: NO_ACCESS });
          }
          return { kind: 'analyze', images };
        },
        marks(submitted, _now, refused) {
          // A pushed copy keeps the digest, so these are the stream's digests either way. Refused images are recorded too:
          // otherwise every pass would pick them again.
          const digests = [...submitted.map(({ image }) => image.output?.digest), ...refused.map((image) => image.output?.digest)]
            .filter((digest): digest is string => digest !== undefined);
          return { [ANNOTATIONS.submittedImages]: recordSubmitted(read.submitted, read.tags, digests).value };
        },
      };
    },
  };
}
