import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BuildWatcherError } from '../errors.js';
import { parseKubeObject } from '../kube/object.js';
import { parseBuild } from './build.js';
import { decideBuild, type WhatToSend } from './decide.js';
import { resolveBuild } from './resolve.js';
import {
  BASE_DIGEST,
  DIGEST,
  REGISTRY,
  builderImageStream,
  customBuild,
  dockerBuild,
  pythonImageStream,
  sourceBuild,
} from './fixtures/builds.js';

const ALL: WhatToSend = { sendBaseImage: true, sendOutputImage: true, sendBuildLog: true };
const build = (json: Record<string, unknown>) => parseBuild(parseKubeObject(json));

function ports(warnings: string[] = []) {
  const streams = [pythonImageStream(), builderImageStream()].map((json) => parseKubeObject(json));
  return {
    readImageStream: async (namespace: string, name: string) =>
      streams.find((stream) => stream.namespace === namespace && stream.name === name),
    readBuildLog: async () => 'STEP 1/3: FROM python\nerror: boom\n',
    warn: (message: string) => warnings.push(message),
  };
}

const POLICY = { passToken: true, tokenFile: '/var/run/secrets/token', sourceRegistryVerifyTls: false };

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
});

describe('resolveBuild', () => {
  it('Source strategy: output pinned by digest, base through the ImageStreamTag, token on the cluster registry only', async () => {
    const image = await resolveBuild(build(sourceBuild()), { action: 'analyze', output: true, base: true, log: true }, POLICY, ports());
    assert.deepEqual(image.output, { registry: REGISTRY, repository: 'myproject/app', tag: 'latest', digest: DIGEST });
    assert.deepEqual(image.base, { registry: 'registry.access.redhat.com', repository: 'ubi9/python-311', digest: BASE_DIGEST });
    assert.deepEqual(image.outputCredentials, { kind: 'service-account-token', tokenPath: '/var/run/secrets/token' });
    assert.deepEqual(image.baseCredentials, { kind: 'none' }, 'the token must never go to another registry');
    assert.equal(image.outputVerifyTls, false);
    assert.equal(image.baseVerifyTls, true);
    assert.equal(await image.buildLog?.(), 'STEP 1/3: FROM python\nerror: boom\n');
    assert.equal(image.analysis, 'build');
    assert.equal(image.source.uid, (sourceBuild()['metadata'] as { uid: string }).uid);
  });

  it('Docker strategy: DockerImage base and output, no token outside the cluster registry', async () => {
    const image = await resolveBuild(build(dockerBuild()), { action: 'analyze', output: true, base: true, log: false }, POLICY, ports());
    assert.deepEqual(image.output, { registry: 'quay.io', repository: 'acme/web', tag: '1.2', digest: DIGEST });
    assert.equal(image.base?.digest, BASE_DIGEST);
    assert.equal(image.buildLog, undefined);
    assert.deepEqual(image.outputCredentials, { kind: 'none' }, 'a DockerImage output is not the cluster registry');
    assert.equal(image.outputVerifyTls, true);
  });

  it('Custom strategy: ImageStreamImage base resolved through the stream repository', async () => {
    const image = await resolveBuild(build(customBuild()), { action: 'analyze', output: true, base: true, log: false }, POLICY, ports());
    assert.deepEqual(image.base, { registry: REGISTRY, repository: 'myproject/builder', digest: BASE_DIGEST });
    assert.deepEqual(image.baseCredentials, { kind: 'service-account-token', tokenPath: '/var/run/secrets/token' });
  });

  it('no digest reported: falls back to the tag and warns', async () => {
    const warnings: string[] = [];
    const image = await resolveBuild(build(sourceBuild({ digest: null })), { action: 'analyze', output: true, base: false, log: false }, POLICY, ports(warnings));
    assert.equal(image.output?.digest, undefined);
    assert.equal(image.output?.tag, 'latest');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /no output digest/);
  });

  it('a missing base ImageStream is a warning, not a failure', async () => {
    const warnings: string[] = [];
    const json = sourceBuild();
    (json['spec'] as { strategy: unknown }).strategy = { type: 'Source', sourceStrategy: { from: { kind: 'ImageStreamTag', name: 'gone:1' } } };
    const image = await resolveBuild(build(json), { action: 'analyze', output: true, base: true, log: false }, POLICY, ports(warnings));
    assert.equal(image.base, undefined);
    assert.match(warnings.join('\n'), /myproject\/gone:1 not found/);
  });

  it('an absurd digest is refused with the field name', async () => {
    await assert.rejects(
      resolveBuild(build(sourceBuild({ digest: 'sha256:nothex' })), { action: 'analyze', output: true, base: false, log: false }, POLICY, ports()),
      /status\.output\.to\.imageDigest/,
    );
  });

  it('without THOTH_PASS_TOKEN no credentials are attached', async () => {
    const image = await resolveBuild(build(sourceBuild()), { action: 'analyze', output: true, base: true, log: false }, { ...POLICY, passToken: false }, ports());
    assert.deepEqual(image.outputCredentials, { kind: 'none' });
  });
});
