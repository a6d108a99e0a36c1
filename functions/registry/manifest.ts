/**
 * Manifests and indexes as the copier needs them: which blobs an image manifest references, which manifests an index references.
 * The raw bytes are never re-serialised, so digests survive the copy.
 */
import { createHash } from '../builtins.js';
import { digestAlgorithm, isDigest } from '../domain/image-reference.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** Accept header for manifest requests: every type we can copy. */
export const MANIFEST_ACCEPT = [OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(', ');

const INDEX_TYPES = new Set([OCI_INDEX, DOCKER_MANIFEST_LIST]);
const IMAGE_TYPES = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
/** Layers that registries must not be asked to store (Windows base layers and the like). */
const FOREIGN_LAYER = /(?:\.foreign\.|\.nondistributable\.)/;

export interface Descriptor { readonly mediaType: string; readonly digest: string; readonly size: number }

export type ParsedManifest =
  | { readonly kind: 'index'; readonly mediaType: string; readonly manifests: readonly Descriptor[] }
  | { readonly kind: 'image'; readonly mediaType: string; readonly blobs: readonly Descriptor[] };

/** The digest of `bytes` with the algorithm `like` names (sha256 by default). */
export function digestOf(bytes: Buffer, like = 'sha256:'): string {
  const algorithm = digestAlgorithm(like);
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function descriptor(value: unknown): Descriptor | string {
  if (value === null || typeof value !== 'object') return 'descriptor is not an object';
  const { mediaType, digest, size } = value as { mediaType?: unknown; digest?: unknown; size?: unknown };
  if (typeof digest !== 'string' || !isDigest(digest)) return 'descriptor digest is malformed';
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return 'descriptor size is malformed';
  return { mediaType: typeof mediaType === 'string' ? mediaType : '', digest, size };
}

function descriptors(values: unknown, what: string): Descriptor[] | string {
  if (!Array.isArray(values)) return `${what} is not a list`;
  const result: Descriptor[] = [];
  for (const value of values) {
    const parsed = descriptor(value);
    if (typeof parsed === 'string') return `${what}: ${parsed}`;
    result.push(parsed);
  }
  return result;
}

/**
 * Reads a manifest; answers a short reason when it is not one we can copy. The media type comes from the document, else from
 * Content-Type, else from its shape.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined): ParsedManifest | string {
  let document: unknown;
  try {
    document = JSON.parse(bytes.toString('utf8'));
  } catch {
    return 'manifest is not JSON';
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return 'manifest is not a JSON object';
  const fields = document as { mediaType?: unknown; schemaVersion?: unknown; manifests?: unknown; config?: unknown; layers?: unknown };
  if (fields.schemaVersion !== 2) return 'manifest schemaVersion is not 2';
  const header = contentType?.split(';')[0]?.trim();
  const shape = fields.manifests !== undefined ? OCI_INDEX : OCI_MANIFEST;
  const mediaType = typeof fields.mediaType === 'string' ? fields.mediaType
    : header !== undefined && (INDEX_TYPES.has(header) || IMAGE_TYPES.has(header)) ? header : shape;
  if (INDEX_TYPES.has(mediaType)) {
    const manifests = descriptors(fields.manifests, 'index manifests');
    return typeof manifests === 'string' ? manifests : { kind: 'index', mediaType, manifests };
  }
  if (!IMAGE_TYPES.has(mediaType)) return 'unsupported manifest media type';
  const config = descriptor(fields.config);
  if (typeof config === 'string') return `config ${config}`;
  const layers = descriptors(fields.layers ?? [], 'layers');
  if (typeof layers === 'string') return layers;
  return { kind: 'image', mediaType, blobs: [config, ...layers.filter((l) => !FOREIGN_LAYER.test(l.mediaType))] };
}
