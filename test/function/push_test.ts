/**
 * THOTH_PUSH_REGISTRY through the real runtime: the output image is copied between two real
 * registries (both with htpasswd auth), and Thoth gets the copy, by digest, with the
 * destination's credentials. A failed copy submits nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pushTestImage, startRegistry, TestRegistryClient, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { postBinaryEvent, startFunction, type RunningFunction } from './run-function.js';

function build(name: string, output: string, digest: string): Record<string, unknown> {
  return {
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name, namespace: 'team-a', uid: `uid-${name}`, resourceVersion: '3' },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'ImageStreamTag', name: 'app:v1' } } },
    status: { phase: 'Complete', outputDockerImageReference: output, output: { to: { imageDigest: digest } } },
  };
}

describe('the function with a push registry', () => {
  let cluster: RunningRegistry;
  let external: RunningRegistry;
  let thoth: ThothStub;
  let fn: RunningFunction;
  let image: { digest: string; blobDigests: readonly string[] };

  before(async () => {
    // The source is not one an ImageStream vouches for (there is no cluster here), so it gets no
    // credentials; it is fetched only because the operator allowed it.
    cluster = await startRegistry();
    external = await startRegistry({ auth: 'htpasswd' });
    image = await pushTestImage(cluster, { repository: 'team-a/app', tag: 'v1', layerSizes: [64 * 1024, 128 * 1024], platforms: ['linux/amd64', 'linux/arm64'] });
    thoth = await ThothStub.start({ plainHttpRegistries: [cluster.host, external.host] });
    fn = await startFunction({
      env: {
        THOTH_USER_API_HOST: thoth.url,
        BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1',
        THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1',
        THOTH_PUSH_REGISTRY: `${external.host}/mirror`,
        BUILD_WATCHER_PULL_REGISTRIES: cluster.host,
        THOTH_DST_REGISTRY_USER: external.credentials?.username ?? '',
        THOTH_DST_REGISTRY_PASSWORD: external.credentials?.password ?? '',
      },
    });
  });

  after(async () => {
    await fn?.stop();
    await thoth?.close();
    await cluster?.stop();
    await external?.stop();
  });

  it('copies the whole index, keeps the namespace in the name, and submits the copy by digest', async () => {
    const response = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: build('app-1', `${cluster.host}/team-a/app:v1`, image.digest),
    });
    assert.equal(response.status, 200, await response.clone().text());
    const [submission] = await thoth.awaitSubmissions(1);
    const copy = `${external.host}/mirror/team-a/app@${image.digest}`;
    assert.equal(submission?.body?.output_image, copy);
    assert.equal(submission?.query['output_registry_user'], external.credentials?.username);
    assert.equal(submission?.query['output_registry_password'], external.credentials?.password);

    const client = new TestRegistryClient(external);
    const manifest = await client.getManifest('mirror/team-a/app', 'v1');
    assert.equal(manifest?.digest, image.digest, 'the tag points at the same index, byte for byte');
  });

  it('a copy that fails for good submits nothing and says why', async () => {
    const before = thoth.submissions.length;
    const response = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: build('ghost-1', `${cluster.host}/team-a/ghost:v1`, `sha256:${'e'.repeat(64)}`),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('ce-type'), 'dev.build-watcher.analysis.refused');
    const reply = (await response.json()) as { reason: string };
    // What the registry answered stays in the log: the reply names no address and no status.
    assert.equal(reply.reason, 'copy to the push registry failed: a registry refused it');
    // The operator's log has the detail (read as the process writes it: a line may trail the answer).
    await fn.waitForLine(/push failed.*ghost/);
    assert.equal(thoth.submissions.length, before);
  });

  it('an unreachable push registry is transient: 503 and nothing submitted', async () => {
    const before = thoth.submissions.length;
    await external.stop();
    const response = await postBinaryEvent(fn.url, {
      type: 'dev.knative.apiserver.resource.update',
      object: build('app-2', `${cluster.host}/team-a/app:v1`, image.digest),
    });
    assert.equal(response.status, 503);
    assert.equal(thoth.submissions.length, before);
  });

  it('never logs a registry password', () => {
    const all = fn.lines.join('\n');
    for (const secret of [external.credentials?.password]) {
      assert.ok(secret !== undefined && secret.length > 0);
      assert.equal(all.includes(secret), false);
    }
  });
});
