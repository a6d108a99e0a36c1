/**
 * Where a pushed copy goes (THOTH_PUSH_REGISTRY is `host[:port][/path]`), pushed by digest (the copy's is the source's):
 * - 'namespace' (default): `<push-registry>/<namespace>/<name>`, same tag, so images of different namespaces never
 *   collide. `quay.io/org` + `ns/app:v1` → `quay.io/org/ns/app:v1`.
 * - 'single-repository': every image in the one repository the push registry names, told apart by tag
 *   `<namespace>-<name>-<tag>`, for registries (quay.io) where one repository was set up.
 *   `quay.io/org/thoth` + `ns/app:v1` → `quay.io/org/thoth:ns-app-v1`.
 * A copy is never left untagged: registries prune untagged manifests (quay.io's expiry, Harbor and ECR retention
 * rules, GitLab cleanup policies), maybe before Thoth pulls the image. An image without a tag is tagged after its
 * digest, `sha256-<hex>` (the digest with '-' for ':', as in cosign's tags), so the tag names the one image it
 * pins; one with neither tag nor digest is tagged `latest`, which is what the copier copies then.
 */
import { createHash } from 'node:crypto';
import { NAMESPACE_PLACEHOLDER, parseRepositoryPattern, type RepositoryPattern } from '../access/namespace-repositories.js';
import type { ImageReference } from '../domain/built-image.js';
import { invalid } from '../errors.js';

export const PUSH_NAMINGS = ['namespace', 'single-repository'] as const;
export type PushNaming = (typeof PUSH_NAMINGS)[number];

export interface PushTarget {
  /** `host[:port][/path]`. */
  readonly pushRegistry: string;
  readonly naming: PushNaming;
  /** Where the image was built. Defaults to the source repository's path before its last component (OpenShift's namespace). */

  readonly namespace?: string;
}

const MAX_TAG = 128;

/** A valid tag from arbitrary text; long ones keep a hash suffix so they stay distinct. */
function toTag(text: string): string {
  let tag = text.replace(/[^\w.-]+/g, '-').replace(/^[.-]+/, '');
  if (tag === '') tag = 'image';
  if (tag.length <= MAX_TAG) return tag;
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return `${tag.slice(0, MAX_TAG - hash.length - 1)}-${hash}`;
}

/** Lowercase path components with separators only between alphanumerics, as registries require. */
function toPathComponent(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+|[._-]+$/g, '');
}

export function pushDestination(source: ImageReference, target: PushTarget): ImageReference {
  const slash = target.pushRegistry.indexOf('/');
  const registry = slash < 0 ? target.pushRegistry : target.pushRegistry.slice(0, slash);
  const prefix = slash < 0 ? '' : target.pushRegistry.slice(slash + 1).replace(/^\/+|\/+$/g, '');
  if (registry === '') throw invalid('push registry has no host');
  const components = source.repository.split('/');
  const name = components.at(-1) ?? source.repository;
  const namespace = target.namespace ?? components.slice(0, -1).join('/');
  const digest = source.digest === undefined ? {} : { digest: source.digest };

  if (target.naming === 'single-repository') {
    if (prefix === '') throw invalid('single-repository push naming needs a push registry with a repository path, e.g. quay.io/org/repo');
    const parts = [namespace.replaceAll('/', '-'), name, source.tag ?? 'latest'].filter((p) => p !== '');
    return { registry, repository: prefix, tag: toTag(parts.join('-')), ...digest };
  }
  const repository = [prefix, ...namespace.split('/').map(toPathComponent), name].filter((p) => p !== '').join('/');
  const tag = source.tag ?? (source.digest === undefined ? 'latest' : toTag(source.digest.replace(':', '-')));
  return { registry, repository, tag, ...digest };
}

/**
 * The repositories each namespace owns on the push registry by this naming: `<push-registry>/{namespace}` with `namespace`
 * naming, where every copy of a namespace's images goes; none with `single-repository`, where all namespaces share one
 * repository and a tag prefix proves nothing (`a` + `b-c` and `a-b` + `c` give one tag). A string: why the push registry's
 * path cannot be a prefix.
 */
export function mirrorPattern(pushRegistry: string, naming: PushNaming): RepositoryPattern | string | undefined {
  return naming === 'namespace' ? parseRepositoryPattern(`${pushRegistry}/${NAMESPACE_PLACEHOLDER}`) : undefined;
}
