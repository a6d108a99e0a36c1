import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialPolicy, MemoryCluster, planContext } from '../../test/fakes/in-memory-cluster.js';
import { loadConfig } from '../config.js';
import { ConfigError } from '../config.js';
import type { ImageReference } from '../domain/built-image.js';
import { KubeApiError } from '../kube/api.js';
import type { KubeObject } from '../kube/object.js';
import { imageAccess, type CredentialPolicy } from './policy.js';

const REG = 'image-registry.openshift-image-registry.svc:5000';
const ROUTE = 'default-route-openshift-image-registry.apps.example.com';
const DIGEST = `sha256:${'d'.repeat(64)}`;
const TOKEN = { kind: 'service-account-token', tokenPath: '/token' } as const;

function stream(namespace: string, name: string, registry = REG) {
  return {
    apiVersion: 'image.openshift.io/v1',
    kind: 'ImageStream',
    metadata: { name, namespace },
    status: { dockerImageRepository: `${registry}/${namespace}/${name}`, publicDockerImageRepository: `${ROUTE}/${namespace}/${name}`, tags: [] },
  };
}

function cluster(): MemoryCluster {
  const store = new MemoryCluster();
  for (const [namespace, name] of [['team', 'app'], ['victim', 'private'], ['openshift', 'python']] as const) store.put(stream(namespace, name));
  store.put({ apiVersion: 'build.openshift.io/v1', kind: 'Build', metadata: { name: 'b-1', namespace: 'team' } });
  return store;
}

const owner = (store: MemoryCluster): KubeObject => {
  const build = store.get({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'team', name: 'b-1' });
  assert.ok(build);
  return build;
};
const image = (registry: string, repository: string): ImageReference => ({ registry, repository, digest: DIGEST });
const TOKEN_POLICY = credentialPolicy({ passToken: true, tokenFile: '/token', sourceRegistryVerifyTls: false });

async function access(at: ImageReference, policy: CredentialPolicy = TOKEN_POLICY, role: 'output' | 'base' = 'output', store = cluster()) {
  return imageAccess(at, role, owner(store), policy, planContext(store));
}

describe('the one credential decision', () => {
  it('gives the token to an image an ImageStream of the object\'s own namespace serves, on either of its repositories', async () => {
    assert.deepEqual(await access(image(REG, 'team/app')), { credentials: TOKEN, verifyTls: false, fetchable: true });
    assert.deepEqual((await access(image(ROUTE, 'team/app'))).credentials, TOKEN);
  });

  it('F1a: a forged output reference on a host the author chose gets nothing, though its path names a real stream', async () => {
    for (const host of ['127.0.0.1:34881', 'evil.example.com', `${REG}.evil.example.com`]) {
      assert.deepEqual(await access(image(host, 'team/app')), { credentials: { kind: 'none' }, verifyTls: true, fetchable: false }, host);
    }
  });

  it('F2: another namespace\'s image gets nothing, even where the function may read its stream', async () => {
    assert.deepEqual((await access(image(REG, 'victim/private'), TOKEN_POLICY, 'base')).credentials, { kind: 'none' });
  });

  it('a shared namespace (openshift by default) vouches for its builder images; an operator may list none', async () => {
    assert.deepEqual((await access(image(REG, 'openshift/python'), TOKEN_POLICY, 'base')).credentials, TOKEN);
    assert.deepEqual((await access(image(REG, 'openshift/python'), { ...TOKEN_POLICY, sharedNamespaces: [] }, 'base')).credentials, { kind: 'none' });
  });

  it('no stream, an unreadable stream, or a deeper path: nothing', async () => {
    assert.deepEqual((await access(image(REG, 'team/missing'))).credentials, { kind: 'none' });
    assert.deepEqual((await access(image(REG, 'team/app/extra'))).credentials, { kind: 'none' });
    const forbidden = cluster();
    forbidden.read = async () => {
      throw new KubeApiError(403, 'GET imagestreams', 'Forbidden');
    };
    assert.deepEqual((await access(image(REG, 'team/app'), TOKEN_POLICY, 'output', forbidden)).credentials, { kind: 'none' });
  });

  it('THOTH_SRC_REGISTRY_* follow the same rule', async () => {
    const basic = { username: 'copier', password: 'src-secret-value' };
    const policy = credentialPolicy({ sourceCredentials: basic, fetchableHosts: ['push.example.com'] });
    assert.deepEqual((await access(image(REG, 'team/app'), policy)).credentials, { kind: 'basic', credentials: basic });
    assert.deepEqual(await access(image('127.0.0.1:5000', 'team/app'), policy), { credentials: { kind: 'none' }, verifyTls: true, fetchable: false });
  });

  it('THOTH_DST_REGISTRY_* go only with output images on a listed host, never with a base image', async () => {
    const destination = { username: 'pusher', password: 'dst-secret-value' };
    const policy = credentialPolicy({ destinationCredentials: destination, destinationHosts: ['quay.example.com'] });
    assert.deepEqual((await access(image('quay.example.com', 'org/app'), policy)).credentials, { kind: 'basic', credentials: destination });
    assert.deepEqual((await access(image('quay.example.com', 'org/app'), policy, 'base')).credentials, { kind: 'none' });
    assert.deepEqual((await access(image('quay.evil.example.com', 'org/app'), policy)).credentials, { kind: 'none' });
  });

  it('the function may fetch only from the cluster registry, the push registry and BUILD_WATCHER_PULL_REGISTRIES', async () => {
    const policy = credentialPolicy({ fetchableHosts: ['push.example.com', 'mirror.example.com'] });
    assert.equal((await access(image(REG, 'team/app'), policy)).fetchable, true);
    assert.equal((await access(image('mirror.example.com', 'org/app'), policy)).fetchable, true);
    assert.equal((await access(image('127.0.0.1:6443', 'team/app'), policy)).fetchable, false);
  });

  it('reads no ImageStream when nothing is configured that it could decide', async () => {
    const store = cluster();
    const before = store.reads;
    assert.deepEqual(await access(image(REG, 'team/app'), credentialPolicy(), 'output', store), { credentials: { kind: 'none' }, verifyTls: true, fetchable: false });
    assert.equal(store.reads, before);
  });
});

describe('THOTH_DST_REGISTRY_* without a push registry', () => {
  it('refuses to start without THOTH_DST_REGISTRY_HOSTS, saying which variable to set and why', () => {
    const env = { THOTH_USER_API_HOST: 'thoth.example.com', THOTH_DST_REGISTRY_USER: 'u', THOTH_DST_REGISTRY_PASSWORD: 'p4ssw0rd!' };
    assert.throws(() => loadConfig(env), (error: unknown) => error instanceof ConfigError && /THOTH_DST_REGISTRY_HOSTS \(required with .*a Build's author chooses its output host\)/.test(error.message) && !error.message.includes('p4ssw0rd!'));
    assert.deepEqual(loadConfig({ ...env, THOTH_DST_REGISTRY_HOSTS: 'quay.example.com' }).destinationRegistryHosts, ['quay.example.com']);
    assert.equal(loadConfig({ ...env, THOTH_PUSH_REGISTRY: 'push.example.com' }).pushRegistry, 'push.example.com');
  });
});
