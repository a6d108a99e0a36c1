import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { credentialPolicy, MemoryCluster, planContext } from '../../test/fakes/in-memory-cluster.js';
import { loadConfig } from '../config.js';
import { ConfigError } from '../config.js';
import type { ImageReference } from '../domain/built-image.js';
import { KubeApiError } from '../kube/api.js';
import type { KubeObject } from '../kube/object.js';
import { parseRepositoryPattern, type RepositoryPattern } from './namespace-repositories.js';
import { imageAccess, OUTSIDE_NAMESPACE, type CredentialPolicy } from './policy.js';

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

  it('THOTH_DST_REGISTRY_* go only with output images in the namespace\'s own repositories, never with a base image', async () => {
    const policy = dstPolicy(['quay.example.com/{namespace}']);
    assert.deepEqual(await access(image('quay.example.com', 'team/app'), policy), { credentials: { kind: 'basic', credentials: DST }, verifyTls: true, fetchable: false });
    assert.deepEqual(await access(image('quay.example.com', 'team/app'), policy, 'base'), { credentials: { kind: 'none' }, verifyTls: true, fetchable: false });
    assert.deepEqual((await access(image('quay.evil.example.com', 'team/app'), policy)).credentials, { kind: 'none' });
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

const DST = { username: 'pusher', password: 's3cr3t-dst-value' };

function patterns(texts: readonly string[]): RepositoryPattern[] {
  return texts.map((text) => {
    const pattern = parseRepositoryPattern(text);
    if (typeof pattern === 'string') assert.fail(pattern);
    return pattern;
  });
}

/** DST credentials as wiring.ts hands them over: the patterns' hosts, plus the push registry's when there is one. */
function dstPolicy(texts: readonly string[], push?: string): CredentialPolicy {
  const repositories = patterns(texts);
  const hosts = [...new Set([...repositories.map((pattern) => pattern.host), ...(push === undefined ? [] : [push])])];
  return credentialPolicy({ destinationCredentials: DST, destinationRepositories: repositories, destinationHosts: hosts, fetchableHosts: push === undefined ? [] : [push] });
}

const REFUSED = { credentials: { kind: 'none' }, verifyTls: true, fetchable: false, refused: OUTSIDE_NAMESPACE } as const;

describe('the tenant boundary for THOTH_DST_REGISTRY_* (issue 20, confused deputy)', () => {
  it('push registry: another tenant\'s private repository on it is neither fetched nor given the push credentials', async () => {
    const policy = dstPolicy(['push.example.com/mirror/{namespace}'], 'push.example.com');
    for (const repository of ['victim-org/private', 'mirror/victim/private', 'mirror/team-a/app', 'mirror', 'mirror/teamx']) {
      assert.deepEqual(await access(image('push.example.com', repository), policy), REFUSED, repository);
    }
    assert.deepEqual(await access(image('PUSH.Example.COM', 'victim-org/private'), policy), REFUSED, 'a host in another case is the same host');
    assert.deepEqual(await access(image('push.example.com', 'mirror/team/app'), policy), { credentials: { kind: 'basic', credentials: DST }, verifyTls: true, fetchable: true });
    assert.deepEqual(await access(image('push.example.com', 'mirror/team'), policy), { credentials: { kind: 'basic', credentials: DST }, verifyTls: true, fetchable: true });
  });

  it('no push registry: Thoth gets THOTH_DST_REGISTRY_* only for the namespace\'s own repositories; any other output there is refused', async () => {
    const policy = dstPolicy(['quay.example.com/{namespace}', 'registry.example.com/teams/{namespace}/images']);
    assert.deepEqual(await access(image('quay.example.com', 'victim-org/private'), policy), REFUSED);
    assert.deepEqual(await access(image('quay.example.com', 'team-a/app'), policy), REFUSED, 'a whole component: team does not own team-a');
    assert.deepEqual(await access(image('registry.example.com', 'teams/team/app'), policy), REFUSED, 'the pattern names teams/team/images');
    assert.deepEqual((await access(image('registry.example.com', 'teams/team/images/app'), policy)).credentials, { kind: 'basic', credentials: DST });
    assert.deepEqual((await access(image('quay.example.com', 'team/app/nested'), policy)).credentials, { kind: 'basic', credentials: DST });
    assert.deepEqual(await access(image('elsewhere.example.com', 'victim-org/private'), policy), { credentials: { kind: 'none' }, verifyTls: true, fetchable: false },
      'a host the operator holds no credentials for: a reference, as before');
  });

  it('an ImageStream of the object\'s own namespace still decides for the cluster registry, whatever the patterns', async () => {
    const policy = { ...dstPolicy(['quay.example.com/{namespace}']), passToken: true, tokenFile: '/token' };
    assert.deepEqual((await access(image(REG, 'team/app'), policy)).credentials, TOKEN);
  });
});

describe('THOTH_DST_REGISTRY_* configuration', () => {
  const env = { THOTH_USER_API_HOST: 'thoth.example.com', THOTH_DST_REGISTRY_USER: 'u', THOTH_DST_REGISTRY_PASSWORD: 'p4ssw0rd!' };
  const refusal = (environment: NodeJS.ProcessEnv, variable: string, why: RegExp) => assert.throws(() => loadConfig(environment),
    (error: unknown) => error instanceof ConfigError && error.variables.includes(variable) && why.test(error.message) && !error.message.includes('p4ssw0rd!'));

  it('refuses to start without THOTH_DST_REGISTRY_REPOSITORIES and no push registry, saying which variable to set and why', () => {
    refusal(env, 'THOTH_DST_REGISTRY_REPOSITORIES', /required with .*e\.g\. quay\.example\.com\/\{namespace\}, since a Build's author chooses its output image/);
    assert.deepEqual(loadConfig({ ...env, THOTH_DST_REGISTRY_REPOSITORIES: 'Quay.example.com/{namespace}/' }).namespaceRepositories, [{ host: 'quay.example.com', components: ['{namespace}'] }]);
  });

  it('refuses a host alone, a placeholder inside a component, and the retired THOTH_DST_REGISTRY_HOSTS', () => {
    for (const value of ['quay.example.com', 'quay.example.com/org', 'quay.example.com/team-{namespace}', 'quay.example.com/{namespace}/{namespace}']) {
      refusal({ ...env, THOTH_DST_REGISTRY_REPOSITORIES: value }, 'THOTH_DST_REGISTRY_REPOSITORIES', /\{namespace\} once, as a whole path component/);
    }
    refusal({ ...env, THOTH_DST_REGISTRY_REPOSITORIES: 'quay.example.com/{namespace}', THOTH_DST_REGISTRY_HOSTS: 'quay.example.com' }, 'THOTH_DST_REGISTRY_HOSTS', /replaced by THOTH_DST_REGISTRY_REPOSITORIES/);
  });

  it('refuses patterns by which two namespaces could own one repository, the push registry\'s mirror included', () => {
    refusal({ ...env, THOTH_DST_REGISTRY_REPOSITORIES: 'quay.example.com/{namespace}, quay.example.com/org/{namespace}' }, 'THOTH_DST_REGISTRY_REPOSITORIES', /two namespaces own one repository/);
    refusal({ ...env, THOTH_PUSH_REGISTRY: 'push.example.com/mirror', THOTH_DST_REGISTRY_REPOSITORIES: 'push.example.com/{namespace}' }, 'THOTH_DST_REGISTRY_REPOSITORIES', /two namespaces/);
    const apart = loadConfig({ ...env, THOTH_DST_REGISTRY_REPOSITORIES: 'quay.example.com/a/{namespace}, quay.example.com/b/{namespace}, other.example.com/{namespace}' });
    assert.equal(apart.namespaceRepositories.length, 3);
  });

  it('the push registry\'s namespace naming is its own rule; single-repository naming gives none', () => {
    assert.deepEqual(loadConfig({ ...env, THOTH_PUSH_REGISTRY: 'push.example.com/mirror' }).namespaceRepositories, [{ host: 'push.example.com', components: ['mirror', '{namespace}'] }]);
    assert.deepEqual(loadConfig({ ...env, THOTH_PUSH_REGISTRY: 'push.example.com/thoth', THOTH_PUSH_NAMING: 'single-repository' }).namespaceRepositories, []);
  });
});
