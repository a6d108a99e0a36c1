/**
 * The real kustomize (test/tools/build.sh installs the pinned version) and the CRDs the
 * kustomize layout needs beyond the harness's own: Knative Serving's Service, the Prometheus
 * Operator's ServiceMonitor and PrometheusRule, and for the scan component Tekton's Task and
 * Tekton Triggers' EventListener, TriggerBinding and TriggerTemplate.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { ManifestObject } from '../harness/apply.js';
import { goModuleDir, readVersions } from '../harness/components.js';
import { isRecord } from '../../functions/kube/object.js';
import { REPO_ROOT, field } from './manifests.js';

function toolVersions(): Map<string, string> {
  const text = readFileSync(join(REPO_ROOT, 'test/tools/versions.env'), 'utf8');
  return new Map([...text.matchAll(/^([A-Z_]+)=(\S+)$/gm)].map(([, key = '', value = '']) => [key, value]));
}

export function toolVersion(key: string): string {
  const value = toolVersions().get(key);
  if (value === undefined) throw new Error(`${key} missing from test/tools/versions.env`);
  return value;
}

/** A directory of test/tools' cache (test/go-cache.sh's layout), e.g. `kustomize-v5.8.2`. */
export function toolsDir(name: string): string {
  const cacheRoot = process.env['BUILD_WATCHER_CACHE'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'build-watcher');
  return join(cacheRoot, 'tools', name);
}

/** Same cache layout as test/tools/build.sh. */
export function kustomizeBinary(): string {
  return join(toolsDir(`kustomize-${toolVersion('KUSTOMIZE_VERSION')}`), 'kustomize');
}

/** `kustomize build DIR`, as objects; throws with kustomize's own message. */
export async function kustomizeBuild(dir: string): Promise<ManifestObject[]> {
  const { stdout } = await promisify(execFile)(kustomizeBinary(), ['build', dir], { maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(stdout).flatMap((doc) => {
    const value: unknown = doc.toJS();
    return isRecord(value) ? [value as ManifestObject] : [];
  });
}

/** CRDs read verbatim (no client-side model that could rename or drop fields on the way). */
export function readCrds(path: string): ManifestObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).flatMap((doc) => {
    const value: unknown = doc.toJS();
    if (!isRecord(value) || value['kind'] !== 'CustomResourceDefinition') return [];
    const metadata = field(value, 'metadata');
    if (!isRecord(metadata)) return [];
    // Some upstream CRDs carry `creationTimestamp: null`, which strict validation refuses.
    const { creationTimestamp: _ignored, ...kept } = metadata;
    return [{ ...value, metadata: kept } as unknown as ManifestObject];
  });
}

/** Tekton Triggers' CRDs (EventListener, TriggerBinding, TriggerTemplate, ...), from the pinned module's config/. */
export async function triggersCrds(): Promise<ManifestObject[]> {
  const triggers = await goModuleDir('github.com/tektoncd/triggers', toolVersion('TRIGGERS_VERSION'));
  return ['clusterinterceptor', 'clustertriggerbinding', 'eventlistener', 'interceptor', 'trigger', 'triggerbinding', 'triggertemplate'].flatMap((name) =>
    readCrds(join(triggers, 'config', `300-${name}.yaml`)),
  );
}

/** The CRDs of the kustomize layout beyond the harness's own (see the file's comment). */
export async function layoutCrds(): Promise<ManifestObject[]> {
  const serving = await goModuleDir('knative.dev/serving', toolVersion('SERVING_VERSION'));
  const operator = await goModuleDir('github.com/prometheus-operator/prometheus-operator', toolVersion('PROMETHEUS_OPERATOR_VERSION'));
  const tekton = await goModuleDir('github.com/tektoncd/pipeline', (await readVersions()).tekton);
  const crdDir = join(operator, 'example/prometheus-operator-crd');
  return [
    ...readCrds(join(serving, 'config/core/300-resources/service.yaml')),
    ...readCrds(join(crdDir, 'monitoring.coreos.com_servicemonitors.yaml')),
    ...readCrds(join(crdDir, 'monitoring.coreos.com_prometheusrules.yaml')),
    ...readCrds(join(tekton, 'config/300-crds/300-task.yaml')),
    ...(await triggersCrds()),
  ];
}
