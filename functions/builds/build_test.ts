import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BuildWatcherError } from '../errors.js';
import { parseKubeObject } from '../kube/object.js';
import { credentialPolicy, MemoryCluster, planContext } from '../../test/fakes/in-memory-cluster.js';
import { parseBuild } from './build.js';
import { decideBuild, type WhatToSend } from './decide.js';
import { resolveBuild } from './resolve.js';
import {
  BASE_DIGEST,
  DIGEST,
  REGISTRY,
  appImageStream,
  builderImageStream,
  customBuild,
  dockerBuild,
  pythonImageStream,
  sourceBuild,
} from './fixtures/builds.js';

const ALL: WhatToSend = { sendBaseImage: true, sendOutputImage: true, sendBuildLog: true };
const build = (json: Record<string, unknown>) => parseBuild(parseKubeObject(json));

function ports(warnings: string[] = []) {
  return {
    readBuildLog: async () => 'STEP 1/3: FROM python\nerror: boom\n',
    warn: (message: string) => warnings.push(message),
  };
}

/** The streams OpenShift would have: python in openshift, builder and app in myproject. */
function context() {
  const cluster = new MemoryCluster();
  for (const stream of [pythonImageStream(), builderImageStream(), appImageStream()]) cluster.put(stream);
  return planContext(cluster);
}

const POLICY = credentialPolicy({ passToken: true, tokenFile: '/var/run/secrets/token', sourceRegistryVerifyTls: false });

describe('decideBuild', () => {
  const cases: [string, Record<string, unknown>, 'add' | 'update' | 'delete', WhatToSend, unknown][] = [
    ['complete: everything', sourceBuild(), 'update', ALL, { action: 'analyze', output: true, base: true, log: true }],
    ['failed: log and base, never output', sourceBuild({ phase: 'Failed' }), 'update', ALL, { action: 'analyze', output: false, base: true, log: true }],
    ['error: log and base', sourceBuild({ phase: 'Error' }), 'update', ALL, { action: 'analyze', output: false, base: true, log: true }],
    ['cancelled', sourceBuild({ phase: 'Cancelled' }), 'update', ALL, { action: 'ignore', reason: 'cancelled' }],
    ['running', sourceBuild({ phase: 'Running' }), 'update', ALL, { action: 'ignore', reason: 'not-finished' }],
    ['new', sourceBuild({ phase: 'New' }), 'add', ALL, { action: 'ignore', reason: 'not-finished' }],
    ['deleted complete build', sourceBuild(), 'delete', ALL, { action: 'ignore', reason: 'deleted' }],
    ['complete, output disabled', sourceBuild(), 'update', { ...ALL, sendOutputImage: false }, { action: 'analyze', output: false, base: true, log: true }],
    [
      'failed with log and base disabled: nothing to send',
      sourceBuild({ phase: 'Failed' }),
      'update',
      { sendBaseImage: false, sendOutputImage: true, sendBuildLog: false },
      { action: 'ignore', reason: 'nothing-to-send' },
    ],
  ];
  for (const [name, json, action, send, expected] of cases) {
    it(name, () => assert.deepEqual(decideBuild(build(json), action, send), expected));
  }
});

describe('parseBuild', () => {
  it('refuses an unknown phase with the field name', () => {
    assert.throws(() => build(sourceBuild({ phase: 'Exploded' })), (error: unknown) =>
      error instanceof BuildWatcherError && error.kind === 'invalid' && error.message.startsWith('status.phase'));
  });
  it('refuses a strategy source of an unknown kind', () => {
    const json = sourceBuild();
    (json['spec'] as { strategy: unknown }).strategy = { type: 'Source', sourceStrategy: { from: { kind: 'Pod', name: 'x' } } };
    assert.throws(() => build(json), /spec\.strategy\.sourceStrategy\.from\.kind/);
  });
  it('refuses a non-string output reference', () => {
    const json = sourceBuild();
    (json['status'] as Record<string, unknown>)['outputDockerImageReference'] = 42;
    assert.throws(() => build(json), /outputDockerImageReference: expected a string/);
  });
  it('reads the commit built from spec.revision.git.commit, when the build has fetched its source', () => {
    const json = sourceBuild();
    assert.equal(build(json).revision, undefined);
    (json['spec'] as Record<string, unknown>)['revision'] = { type: 'Git', git: { commit: 'a1b2c3d', author: { name: 'someone' } } };
    assert.equal(build(json).revision, 'a1b2c3d');
  });
});

describe('resolveBuild', () => {
  it('Source strategy: output pinned by digest, base through the ImageStreamTag, token on the cluster registry only', async () => {
    const image = await resolveBuild(build(sourceBuild()), { action: 'analyze', output: true, base: true, log: true }, POLICY, context(), ports());
    assert.deepEqual(image.output, { registry: REGISTRY, repository: 'myproject/app', tag: 'latest', digest: DIGEST });
    assert.deepEqual(image.base, { registry: 'registry.access.redhat.com', repository: 'ubi9/python-311', digest: BASE_DIGEST });
    assert.deepEqual(image.outputAccess.credentials, { kind: 'service-account-token', tokenPath: '/var/run/secrets/token' });
    assert.deepEqual(image.baseAccess.credentials, { kind: 'none' }, 'the token must never go to another registry');
    assert.equal(image.outputAccess.verifyTls, false);
    assert.equal(image.baseAccess.verifyTls, true);
    assert.equal(await image.buildLog?.(), 'STEP 1/3: FROM python\nerror: boom\n');
    assert.equal(image.analysis, 'build');
    assert.equal(image.source.uid, (sourceBuild()['metadata'] as { uid: string }).uid);
  });

  it('Docker strategy: DockerImage base and output, no token outside the cluster registry', async () => {
    const image = await resolveBuild(build(dockerBuild()), { action: 'analyze', output: true, base: true, log: false }, POLICY, context(), ports());
    assert.deepEqual(image.output, { registry: 'quay.io', repository: 'acme/web', tag: '1.2', digest: DIGEST });
    assert.equal(image.base?.digest, BASE_DIGEST);
    assert.equal(image.buildLog, undefined);
    assert.deepEqual(image.outputAccess.credentials, { kind: 'none' }, 'a DockerImage output is not the cluster registry');
    assert.equal(image.outputAccess.verifyTls, true);
  });

  it('Custom strategy: ImageStreamImage base resolved through the stream repository', async () => {
    const image = await resolveBuild(build(customBuild()), { action: 'analyze', output: true, base: true, log: false }, POLICY, context(), ports());
    assert.deepEqual(image.base, { registry: REGISTRY, repository: 'myproject/builder', digest: BASE_DIGEST });
    assert.deepEqual(image.baseAccess.credentials, { kind: 'service-account-token', tokenPath: '/var/run/secrets/token' });
  });

  it('no digest reported: falls back to the tag and warns', async () => {
    const warnings: string[] = [];
    const image = await resolveBuild(build(sourceBuild({ digest: null })), { action: 'analyze', output: true, base: false, log: false }, POLICY, context(), ports(warnings));
    assert.equal(image.output?.digest, undefined);
    assert.equal(image.output?.tag, 'latest');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /no output digest/);
  });

  it('a missing base ImageStream is a warning, not a failure', async () => {
    const warnings: string[] = [];
    const json = sourceBuild();
    (json['spec'] as { strategy: unknown }).strategy = { type: 'Source', sourceStrategy: { from: { kind: 'ImageStreamTag', name: 'gone:1' } } };
    const image = await resolveBuild(build(json), { action: 'analyze', output: true, base: true, log: false }, POLICY, context(), ports(warnings));
    assert.equal(image.base, undefined);
    assert.match(warnings.join('\n'), /myproject\/gone:1 not found/);
  });

  it('an absurd digest is refused with the field name', async () => {
    await assert.rejects(
      resolveBuild(build(sourceBuild({ digest: 'sha256:nothex' })), { action: 'analyze', output: true, base: false, log: false }, POLICY, context(), ports()),
      /status\.output\.to\.imageDigest/,
    );
  });

  it('without THOTH_PASS_TOKEN no credentials are attached', async () => {
    const image = await resolveBuild(build(sourceBuild()), { action: 'analyze', output: true, base: true, log: false }, { ...POLICY, passToken: false }, context(), ports());
    assert.deepEqual(image.outputAccess.credentials, { kind: 'none' });
  });

  it('F1a: a Build whose author forged its status to name another host gets no token, ImageStreamTag output or not', async () => {
    const json = sourceBuild();
    (json['status'] as Record<string, unknown>)['outputDockerImageReference'] = '127.0.0.1:34881/myproject/app:latest';
    const image = await resolveBuild(build(json), { action: 'analyze', output: true, base: false, log: false }, POLICY, context(), ports());
    assert.equal(image.output?.registry, '127.0.0.1:34881');
    assert.deepEqual(image.outputAccess, { credentials: { kind: 'none' }, verifyTls: true, fetchable: false });
  });

  it('F2: a base image from another namespace\'s ImageStream is sent without the token, with a warning saying so', async () => {
    const warnings: string[] = [];
    const json = sourceBuild();
    (json['spec'] as { strategy: unknown }).strategy = { type: 'Source', sourceStrategy: { from: { kind: 'ImageStreamTag', namespace: 'victim', name: 'private:latest' } } };
    const ctx = context();
    const victim = {
      ...builderImageStream(),
      metadata: { name: 'private', namespace: 'victim' },
      status: {
        dockerImageRepository: `${REGISTRY}/victim/private`,
        tags: [{ tag: 'latest', items: [{ created: '2026-11-01T00:00:00Z', dockerImageReference: `${REGISTRY}/victim/private@${BASE_DIGEST}`, image: BASE_DIGEST, generation: 1 }] }],
      },
    };
    (ctx.store as MemoryCluster).put(victim);
    const image = await resolveBuild(build(json), { action: 'analyze', output: true, base: true, log: false }, POLICY, ctx, ports(warnings));
    assert.deepEqual(image.base, { registry: REGISTRY, repository: 'victim/private', digest: BASE_DIGEST }, 'still submitted, never dropped');
    assert.deepEqual(image.baseAccess.credentials, { kind: 'none' });
    assert.match(warnings.join('\n'), /victim\/private:latest is in neither this Build's namespace nor BUILD_WATCHER_SHARED_IMAGE_NAMESPACES; submitted without credentials/);
  });
});
