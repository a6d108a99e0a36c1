/**
 * Which repositories on a registry belong to which namespace: the tenant boundary for operator credentials
 * (THOTH_DST_REGISTRY_*). A pattern is `host[:port]/path` with `{namespace}` as one whole path component, e.g.
 * `quay.example.com/{namespace}` or `registry.example.com/teams/{namespace}/images`; namespace `team-a` owns that
 * repository and everything under it. A whole component, so that `team` never owns `team-a`'s repositories.
 */
import type { ImageReference } from '../domain/built-image.js';

export const NAMESPACE_PLACEHOLDER = '{namespace}';

export interface RepositoryPattern {
  /** Lowercase `host[:port]`: hostnames are case-insensitive, so no case variant escapes the rule. */
  readonly host: string;
  /** Path components; exactly one is NAMESPACE_PLACEHOLDER. */
  readonly components: readonly string[];
}

const HOST = /^[a-z0-9.-]+(:\d{1,5})?$/;
const COMPONENT = /^[a-z0-9]+([._-][a-z0-9]+|__[a-z0-9]+)*$/;

/** The pattern, or why it is not one (said without echoing it). */
export function parseRepositoryPattern(text: string): RepositoryPattern | string {
  const [rawHost = '', ...rest] = text.replace(/\/+$/, '').split('/');
  const host = rawHost.toLowerCase();
  if (!HOST.test(host)) return 'expected host[:port]/path with {namespace}';
  if (rest.filter((component) => component === NAMESPACE_PLACEHOLDER).length !== 1) {
    return `each entry needs ${NAMESPACE_PLACEHOLDER} once, as a whole path component (a host alone would let every namespace name every repository on it)`;
  }
  if (rest.some((component) => component !== NAMESPACE_PLACEHOLDER && !COMPONENT.test(component))) return 'expected lowercase repository path components';
  return { host, components: rest };
}

/** The repository prefix `namespace` owns under `pattern`. */
function ownedPath(pattern: RepositoryPattern, namespace: string): string {
  return pattern.components.map((component) => (component === NAMESPACE_PLACEHOLDER ? namespace : component)).join('/');
}

/** Whether `image` is in a repository that `namespace` owns under one of `patterns`. */
export function ownsImage(patterns: readonly RepositoryPattern[], namespace: string, image: ImageReference): boolean {
  const host = image.registry.toLowerCase();
  return patterns.some((pattern) => {
    if (pattern.host !== host) return false;
    const owned = ownedPath(pattern, namespace);
    return image.repository === owned || image.repository.startsWith(`${owned}/`);
  });
}

/**
 * Two patterns by which two different namespaces could own one repository (`h/{namespace}` and `h/org/{namespace}`:
 * namespace `org` would own every other namespace's repositories), or undefined. Conservative: a literal component
 * is assumed to be a namespace name that could exist.
 */
export function overlappingPatterns(patterns: readonly RepositoryPattern[]): readonly [RepositoryPattern, RepositoryPattern] | undefined {
  for (const [index, a] of patterns.entries()) {
    for (const b of patterns.slice(index + 1)) {
      if (a.host !== b.host) continue;
      const shared = Math.min(a.components.length, b.components.length);
      const compatible = a.components.slice(0, shared).every((component, at) => {
        const other = b.components[at];
        return component === other || component === NAMESPACE_PLACEHOLDER || other === NAMESPACE_PLACEHOLDER;
      });
      if (compatible && a.components.indexOf(NAMESPACE_PLACEHOLDER) !== b.components.indexOf(NAMESPACE_PLACEHOLDER)) return [a, b];
    }
  }
  return undefined;
}

export function formatPattern(pattern: RepositoryPattern): string {
  return [pattern.host, ...pattern.components].join('/');
}
