/**
 * RBAC as the API server evaluates it, reduced to what our manifests use: which requests a
 * service account may make once a set of manifests is applied.
 */
import { isRecord } from '../../functions/kube/object.js';
import { field, type KubeObject, type Manifest } from './manifests.js';

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

export interface Request {
  readonly namespace: string;
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
}

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

/** Cluster roles our manifests bind but do not define (OpenShift's own, for pulling images). */
export const BUILT_IN_CLUSTER_ROLES: ReadonlyMap<string, readonly PolicyRule[]> = new Map([
  ['system:image-puller', [{ apiGroups: ['', 'image.openshift.io'], resources: ['imagestreams/layers'], verbs: ['get'] }]],
]);

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function rulesOf(role: KubeObject): PolicyRule[] {
  const rules = role['rules'];
  if (!Array.isArray(rules)) return [];
  return rules.filter(isRecord).map((r) => ({
    apiGroups: strings(r['apiGroups']),
    resources: strings(r['resources']),
    verbs: strings(r['verbs']),
  }));
}

function ruleAllows(rule: PolicyRule, request: Request): boolean {
  const has = (list: readonly string[], value: string) => list.includes(value) || list.includes('*');
  return has(rule.apiGroups, request.group) && has(rule.resources, request.resource) && has(rule.verbs, request.verb);
}

function bindsAccount(binding: KubeObject, account: ServiceAccountRef): boolean {
  const subjects = binding['subjects'];
  if (!Array.isArray(subjects)) return false;
  return subjects.some(
    (s) =>
      isRecord(s) &&
      s['kind'] === 'ServiceAccount' &&
      s['name'] === account.name &&
      (s['namespace'] ?? binding.metadata.namespace) === account.namespace,
  );
}

function referencedRules(manifests: readonly Manifest[], binding: KubeObject): PolicyRule[] {
  const kind = field(binding, 'roleRef', 'kind');
  const name = field(binding, 'roleRef', 'name');
  if (typeof name !== 'string') return [];
  if (kind === 'Role') {
    const role = manifests.find(
      (m) => m.object.kind === 'Role' && m.object.metadata.name === name && m.object.metadata.namespace === binding.metadata.namespace,
    );
    return role ? rulesOf(role.object) : [];
  }
  if (kind === 'ClusterRole') {
    const role = manifests.find((m) => m.object.kind === 'ClusterRole' && m.object.metadata.name === name);
    return role ? rulesOf(role.object) : [...(BUILT_IN_CLUSTER_ROLES.get(name) ?? [])];
  }
  return [];
}

/** The rules that apply to `account` for requests in `namespace`. */
export function effectiveRules(manifests: readonly Manifest[], account: ServiceAccountRef, namespace: string): PolicyRule[] {
  return manifests
    .map((m) => m.object)
    .filter(
      (o) =>
        (o.kind === 'RoleBinding' && o.metadata.namespace === namespace) || o.kind === 'ClusterRoleBinding',
    )
    .filter((binding) => bindsAccount(binding, account))
    .flatMap((binding) => referencedRules(manifests, binding));
}

export function allows(manifests: readonly Manifest[], account: ServiceAccountRef, request: Request): boolean {
  return effectiveRules(manifests, account, request.namespace).some((rule) => ruleAllows(rule, request));
}

/** Every (group, resource, verb) the account holds in `namespace`, as sorted `group/resource:verb` strings. */
export function grants(manifests: readonly Manifest[], account: ServiceAccountRef, namespace: string): string[] {
  const out = new Set<string>();
  for (const rule of effectiveRules(manifests, account, namespace)) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        for (const verb of rule.verbs) out.add(`${group}/${resource}:${verb}`);
      }
    }
  }
  return [...out].sort();
}

/** The plural the ApiServerSource controller guesses from a kind (meta.UnsafeGuessKindToResource). */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower.endsWith('s')) return `${lower}es`;
  if (lower.endsWith('y')) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}
