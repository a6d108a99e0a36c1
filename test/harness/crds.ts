import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifests } from './apply.js';
import type { ManifestApplier, ManifestObject } from './apply.js';
import { goModuleDir } from './components.js';
import type { ComponentVersions } from './components.js';

const standInDir = join(dirname(fileURLToPath(import.meta.url)), 'crds');

/**
 * Installs every CRD the product and its tests touch:
 * - OpenShift Build, BuildConfig, ImageStream: stand-ins from test/harness/crds/;
 * - Knative ApiServerSource, PingSource, Broker, Trigger: the real ones, read from the
 *   knative.dev/eventing module in the Go module cache, so manifests are checked against them;
 * - Tekton TaskRun/PipelineRun and Shipwright BuildRun: the real ones, from their Go modules.
 * The real CRDs name conversion webhooks that do not run here; requests at the storage version
 * (sources.knative.dev/v1, eventing.knative.dev/v1, tekton.dev/v1, shipwright.io/v1beta1) never
 * call them. Knative's and Tekton's admission webhooks do not run either: only the schemas judge.
 */
export async function installCrds(applier: ManifestApplier, versions: ComponentVersions): Promise<string[]> {
  const eventing = await goModuleDir('knative.dev/eventing', versions.eventing);
  const tekton = await goModuleDir('github.com/tektoncd/pipeline', versions.tekton);
  const shipwright = await goModuleDir('github.com/shipwright-io/build', versions.shipwright);
  const sources = [
    standInDir,
    ...['apiserversource', 'pingsource', 'sinkbindings', 'broker', 'trigger'].map((n) => join(eventing, 'config/core/resources', `${n}.yaml`)),
    join(tekton, 'config/300-crds/300-taskrun.yaml'),
    join(tekton, 'config/300-crds/300-pipelinerun.yaml'),
    join(shipwright, 'deploy/crds/shipwright.io_buildruns.yaml'),
  ];
  const crds: ManifestObject[] = [];
  for (const source of sources) crds.push(...(await loadManifests(source)));
  const applied = await applier.apply(crds);
  return applied.map((crd) => crd.metadata.name);
}

