import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.js';
import { acceptedKinds, KIND_NAMES } from './domain/kinds.js';
import { apiPath } from './kube/object.js';
import { collectionsFor, lazyThothClient, sourcesFor, wire } from './wiring.js';

describe('the wiring', () => {
  it('makes the Thoth client again after a failed load, instead of caching the failure (B6)', async () => {
    let loads = 0;
    const client = lazyThothClient({ host: 'thoth.example.com' }, async () => {
      loads += 1;
      if (loads === 1) throw new Error('import failed');
      return {
        ThothClient: class {
          async submitBuildAnalysis() {
            return {};
          }
          async submitImageAnalysis() {
            return { analysisId: 'package-extract-1', cached: false };
          }
        },
      } as unknown as typeof import('./thoth/client.js');
    });
    await assert.rejects(client.submitImageAnalysis({ image: 'quay.io/a/b:1' }), /import failed/);
    assert.deepEqual(await client.submitImageAnalysis({ image: 'quay.io/a/b:1' }), { analysisId: 'package-extract-1', cached: false });
    await client.submitImageAnalysis({ image: 'quay.io/a/b:1' });
    assert.equal(loads, 2, 'loaded again once, then kept');
  });

  it('derives every source, collection and path from the one kind table', () => {
    const config = loadConfig({ THOTH_USER_API_HOST: 'thoth.example.com', BUILD_WATCHER_SOURCE_KINDS: KIND_NAMES.join(',') });
    assert.deepEqual([...sourcesFor(config).keys()].sort(), acceptedKinds().sort());
    assert.deepEqual(collectionsFor(config).map((collection) => collection.kind), KIND_NAMES);
    assert.deepEqual(collectionsFor(config).map((collection) => apiPath({ ...collection, namespace: 'ns' })), [
      '/apis/build.openshift.io/v1/namespaces/ns/builds',
      '/apis/image.openshift.io/v1/namespaces/ns/imagestreams',
      '/apis/tekton.dev/v1/namespaces/ns/taskruns',
      '/apis/tekton.dev/v1/namespaces/ns/pipelineruns',
      '/apis/shipwright.io/v1beta1/namespaces/ns/buildruns',
    ]);
  });

  it('names this process in claims after the HOSTNAME config.ts read', () => {
    const wiring = wire(loadConfig({ HOSTNAME: 'build-watcher-7f9c-x2x4z' }), async () => assert.fail('no API call while wiring'));
    assert.match(wiring.deps.ledger.identity.holder, /^build-watcher-7f9c-x2x4z-[0-9a-f]{12}$/);
  });

  it('builds core-group, cluster-wide and subresource paths in the same one function', () => {
    assert.equal(apiPath({ apiVersion: 'v1', plural: 'events', namespace: 'ns' }), '/api/v1/namespaces/ns/events');
    assert.equal(apiPath({ apiVersion: 'build.openshift.io/v1', kind: 'Build' }), '/apis/build.openshift.io/v1/builds');
    assert.equal(apiPath({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'ns', name: 'b-1' }, 'log'), '/apis/build.openshift.io/v1/namespaces/ns/builds/b-1/log');
    assert.throws(() => apiPath({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns' }), /unsupported object apps\/v1\/Deployment/);
  });
});
