/**
 * knative/optional/function/service.yaml, the Knative Service for GitOps, is the Service
 * `kn func deploy` creates from func.yaml: the translation below follows knative/func
 * knative-v1.23.1 (pkg/knative/deployer.go generateNewService, setServiceOptions;
 * pkg/k8s/deployer.go ProcessEnvs, SetHealthEndpoints, SetSecurityContext; pkg/deployer/common.go
 * GenerateCommonLabels). Only func's own bookkeeping annotation (which deployer made it) is left
 * out, so that func does not take over a Service that GitOps owns; the image is a placeholder
 * that the instance kustomization pins by digest.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRecord } from '../../functions/kube/object.js';
import { field, loadAllManifests, loadFuncYaml } from './manifests.js';

const REFERENCE = /^\{\{ (secret|configMap):([a-z0-9-]+):([A-Za-z_][A-Za-z0-9_]*) \}\}$/;

function envFromFunc(value: unknown): Record<string, unknown> {
  const name = String(field(value, 'name'));
  const text = String(field(value, 'value'));
  const ref = REFERENCE.exec(text);
  if (ref === null) return { name, value: text };
  const [, source, object, key] = ref;
  return { name, valueFrom: { [source === 'secret' ? 'secretKeyRef' : 'configMapKeyRef']: { name: object, key } } };
}

/** What func's deployer builds from func.yaml (the parts our func.yaml uses). */
function serviceFromFunc(func: Record<string, unknown>): Record<string, unknown> {
  const labelsList = field(func, 'deploy', 'labels');
  assert.ok(Array.isArray(labelsList));
  const labels: Record<string, string> = Object.fromEntries(labelsList.map((l) => [String(field(l, 'key')), String(field(l, 'value'))]));
  Object.assign(labels, { 'boson.dev/function': 'true', 'function.knative.dev/name': String(func['name']), 'function.knative.dev/runtime': String(func['runtime']) });
  const scale = field(func, 'deploy', 'options', 'scale');
  const envs = field(func, 'run', 'envs');
  assert.ok(Array.isArray(envs));
  return {
    name: func['name'],
    namespace: func['namespace'],
    labels,
    templateLabels: labels,
    templateAnnotations: {
      'autoscaling.knative.dev/min-scale': String(field(scale, 'min')),
      'autoscaling.knative.dev/max-scale': String(field(scale, 'max')),
    },
    containerConcurrency: field(func, 'deploy', 'options', 'resources', 'limits', 'concurrency'),
    serviceAccountName: field(func, 'deploy', 'serviceAccountName'),
    env: envs.map(envFromFunc),
    livenessProbe: { httpGet: { path: '/health/liveness', port: 8080 } },
    readinessProbe: { httpGet: { path: '/health/readiness', port: 8080 } },
    resources: {
      requests: field(func, 'deploy', 'options', 'resources', 'requests'),
      limits: { memory: field(func, 'deploy', 'options', 'resources', 'limits', 'memory') },
    },
    securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
  };
}

describe('knative/optional/function (the Knative Service for GitOps)', () => {
  it('is the Service kn func deploy would create from func.yaml', () => {
    const shipped = loadAllManifests().find((m) => m.file === 'knative/optional/function/service.yaml')?.object;
    assert.ok(shipped);
    const [container, ...others] = field(shipped, 'spec', 'template', 'spec', 'containers') as unknown[];
    assert.equal(others.length, 0);
    const labels = field(shipped, 'metadata', 'labels');
    assert.ok(isRecord(labels));
    const { 'app.kubernetes.io/name': _name, ...funcLabels } = labels;
    const templateLabels = field(shipped, 'spec', 'template', 'metadata', 'labels');
    assert.ok(isRecord(templateLabels));
    const { 'app.kubernetes.io/name': _templateName, ...funcTemplateLabels } = templateLabels;
    assert.deepEqual(
      {
        name: shipped.metadata.name,
        namespace: shipped.metadata.namespace,
        labels: funcLabels,
        templateLabels: funcTemplateLabels,
        templateAnnotations: field(shipped, 'spec', 'template', 'metadata', 'annotations'),
        containerConcurrency: field(shipped, 'spec', 'template', 'spec', 'containerConcurrency'),
        serviceAccountName: field(shipped, 'spec', 'template', 'spec', 'serviceAccountName'),
        env: field(container, 'env'),
        livenessProbe: field(container, 'livenessProbe'),
        readinessProbe: field(container, 'readinessProbe'),
        resources: field(container, 'resources'),
        securityContext: field(container, 'securityContext'),
      },
      serviceFromFunc(loadFuncYaml()),
    );
    assert.equal(field(container, 'image'), 'build-watcher', 'the placeholder an instance pins with `images:`');
  });
});
