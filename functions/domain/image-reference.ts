/**
 * Image references read the way distribution's `reference.ParseNormalizedNamed` reads them
 * (github.com/distribution/reference), so a name means here what it means to docker, podman,
 * skopeo and the registries:
 * - `name[:tag][@digest]`; the first path component is a registry only when it contains `.`
 *   or `:`, is `localhost`, or has uppercase letters; otherwise the registry is `docker.io`;
 * - `docker.io` (and `index.docker.io`) single-component names get `library/`;
 * - repository components are lowercase `[a-z0-9]` runs joined by `.`, `_`, `__` or dashes;
 *   the whole name is at most 255 characters; a tag is `[\w][\w.-]{0,127}`.
 * Unlike distribution, digests are limited to the two algorithms registries serve.
 */
import type { ImageReference, PinnedImage } from './built-image.js';

export type ImageReferenceParse = { readonly ok: true; readonly reference: ImageReference } | { readonly ok: false; readonly why: string };

const DEFAULT_REGISTRY = 'docker.io';
const LEGACY_DEFAULT_REGISTRY = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
/** distribution's NameTotalLengthMax. */
const MAX_NAME = 255;
/** Name, tag and sha512 digest at their longest fit well within this. */
const MAX_INPUT = 1024;

const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const TAG = /^\w[\w.-]{0,127}$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_NAME = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*$/;
const IPV6 = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]{1,5}$/;
const BARE_IMAGE_ID = /^[a-f0-9]{64}$/;
const URL_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** True for `sha256:` + 64 or `sha512:` + 128 lowercase hex digits, and nothing else. */
export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/** The hash function a digest names, sha256 unless it says sha512. */
export const digestAlgorithm = (digest: string): 'sha256' | 'sha512' => (digest.startsWith('sha512:') ? 'sha512' : 'sha256');

/** True for a tag as registries accept it. */
export const isTag = (value: string): boolean => TAG.test(value);

/** True for a repository path: `/`-joined components of lowercase runs with single separators. */
export const isRepositoryPath = (value: string): boolean => value.split('/').every((component) => PATH_COMPONENT.test(component));

/** `registry/repository@digest`, or `registry/repository:tag` when no digest is known. */
export function formatImageReference(image: ImageReference): string {
  const name = `${image.registry}/${image.repository}`;
  if (image.digest !== undefined) return `${name}@${image.digest}`;
  return `${name}:${image.tag ?? 'latest'}`;
}

/** What tells pinned images apart: `registry/repository@digest`, for the tag only names one. */
export const imageKey = (image: PinnedImage): string => formatImageReference(image);

/** Why `value` is not a digest we accept (without echoing it), or undefined when it is one. */
export function digestProblem(value: string): string | undefined {
  if (isDigest(value)) return undefined;
  if (value === '') return 'empty digest';
  const colon = value.indexOf(':');
  if (colon < 0) return 'digest without an algorithm (expected sha256:<64 hex> or sha512:<128 hex>)';
  const algorithm = value.slice(0, colon);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return 'unsupported digest algorithm (expected sha256 or sha512)';
  const expected = algorithm === 'sha256' ? 64 : 128;
  return `malformed ${algorithm} digest (expected ${expected} lowercase hex digits)`;
}

const fail = (why: string): ImageReferenceParse => ({ ok: false, why });

function registryProblem(registry: string): string | undefined {
  const portAt = registry.startsWith('[') ? registry.indexOf(']') + 1 : registry.indexOf(':');
  const host = portAt > 0 && portAt < registry.length ? registry.slice(0, portAt) : registry;
  const port = host === registry ? undefined : registry.slice(portAt + 1);
  if (registry.startsWith('[') ? !IPV6.test(host) : !DOMAIN_NAME.test(host)) return 'invalid registry host';
  if (port !== undefined && (!PORT.test(port) || Number(port) < 1 || Number(port) > 65535)) return 'invalid registry port';
  return undefined;
}

/** distribution's splitDockerDomain. */
function splitRegistry(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  if (slash < 0) return { registry: DEFAULT_REGISTRY, repository: OFFICIAL_PREFIX + name };
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let registry: string;
  let repository: string;
  if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    registry = first === LEGACY_DEFAULT_REGISTRY ? DEFAULT_REGISTRY : first;
    repository = rest;
  } else {
    registry = DEFAULT_REGISTRY;
    repository = name;
  }
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = OFFICIAL_PREFIX + repository;
  return { registry, repository };
}

/** Parses `[host[:port]/]path[:tag][@digest]`; never throws. */
export function parseImageReference(input: string): ImageReferenceParse {
  if (typeof input !== 'string') return fail('not a string');
  if (input === '') return fail('empty image reference');
  if (input.length > MAX_INPUT) return fail(`image reference longer than ${MAX_INPUT} characters`);
  if (/[\s\u0000-\u001f\u007f]/.test(input)) return fail('image reference contains whitespace or control characters');
  if (URL_SCHEME.test(input)) return fail('a URL, not an image reference');
  if (BARE_IMAGE_ID.test(input)) return fail('a bare image ID, not an image reference');

  const at = input.indexOf('@');
  if (at >= 0 && input.indexOf('@', at + 1) >= 0) return fail("more than one '@'");
  const named = at >= 0 ? input.slice(0, at) : input;
  let digest: string | undefined;
  if (at >= 0) {
    digest = input.slice(at + 1);
    const problem = digestProblem(digest);
    if (problem !== undefined) return fail(problem);
  }

  const colon = named.lastIndexOf(':');
  const hasTag = colon > named.lastIndexOf('/');
  const name = hasTag ? named.slice(0, colon) : named;
  const tag = hasTag ? named.slice(colon + 1) : undefined;
  if (tag !== undefined && !isTag(tag)) return fail('invalid tag (expected [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})');
  if (name === '') return fail('no repository name');

  const { registry, repository } = splitRegistry(name);
  const registryIssue = registryProblem(registry);
  if (registryIssue !== undefined) return fail(registryIssue);
  if (repository.toLowerCase() !== repository) return fail('repository name must be lowercase');
  if (!isRepositoryPath(repository)) return fail('invalid repository path (lowercase letters, digits and single separators ._- between them)');
  if (registry.length + 1 + repository.length > MAX_NAME) return fail(`repository name longer than ${MAX_NAME} characters`);

  return { ok: true, reference: { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) } };

}
