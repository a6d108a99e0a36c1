import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageReference } from '../domain/built-image.js';
import { BuildWatcherError } from '../errors.js';
import { pushDestination } from './naming.js';
import type { PushTarget } from './naming.js';

const digest = `sha256:${'ab'.repeat(32)}`;
const internal = (repository: string, tag?: string): ImageReference => ({
  registry: 'image-registry.openshift-image-registry.svc:5000', repository, digest, ...(tag === undefined ? {} : { tag }),
});

describe('pushDestination', () => {
  const cases: [string, ImageReference, PushTarget, ImageReference][] = [
    ['keeps the namespace under the push registry, same tag and digest',
      internal('myproject/app', 'v1'), { pushRegistry: 'quay.io/org', naming: 'namespace' },
      { registry: 'quay.io', repository: 'org/myproject/app', tag: 'v1', digest }],
    ['a push registry without a path',
      internal('myproject/app', 'v1'), { pushRegistry: 'registry.example:5000', naming: 'namespace' },
      { registry: 'registry.example:5000', repository: 'myproject/app', tag: 'v1', digest }],
    ['an explicit namespace wins over the repository path (Tekton pushing to quay)',
      { registry: 'quay.io', repository: 'team/sub/app', tag: 'latest', digest }, { pushRegistry: 'mirror.example/thoth', naming: 'namespace', namespace: 'ci' },
      { registry: 'mirror.example', repository: 'thoth/ci/app', tag: 'latest', digest }],
    ['no tag: tagged after its digest, so registries that prune untagged manifests keep it',
      internal('myproject/app'), { pushRegistry: 'quay.io/org', naming: 'namespace' },
      { registry: 'quay.io', repository: 'org/myproject/app', tag: `sha256-${'ab'.repeat(32)}`, digest }],
    ['neither tag nor digest: latest, which is what gets copied',
      { registry: 'quay.io', repository: 'team/app' }, { pushRegistry: 'mirror.example', naming: 'namespace' },
      { registry: 'mirror.example', repository: 'team/app', tag: 'latest' }],
    ['single repository: namespace, name and tag in the tag',
      internal('myproject/app', 'v1'), { pushRegistry: 'quay.io/org/thoth', naming: 'single-repository' },
      { registry: 'quay.io', repository: 'org/thoth', tag: 'myproject-app-v1', digest }],
    ['single repository without a tag says latest',
      internal('myproject/app'), { pushRegistry: 'quay.io/org/thoth', naming: 'single-repository' },
      { registry: 'quay.io', repository: 'org/thoth', tag: 'myproject-app-latest', digest }],
  ];
  for (const [name, source, target, expected] of cases) {
    it(name, () => assert.deepEqual(pushDestination(source, target), expected));
  }

  it('keeps single-repository tags valid and distinct when they would be too long', () => {
    const long = 'n'.repeat(63);
    const a = pushDestination(internal(`${long}/${'a'.repeat(60)}`, 'v1'), { pushRegistry: 'quay.io/org/thoth', naming: 'single-repository' });
    const b = pushDestination(internal(`${long}/${'a'.repeat(60)}`, 'v2'), { pushRegistry: 'quay.io/org/thoth', naming: 'single-repository' });
    assert.ok((a.tag ?? '').length <= 128 && /^\w[\w.-]*$/.test(a.tag ?? ''));
    assert.notEqual(a.tag, b.tag);
  });

  it('keeps a tag made from a sha512 digest valid', () => {
    const long = pushDestination({ registry: 'r.example', repository: 'ns/app', digest: `sha512:${'cd'.repeat(64)}` },
      { pushRegistry: 'quay.io/org', naming: 'namespace' });
    assert.ok((long.tag ?? '').length <= 128 && /^sha512-[a-f0-9]+-[a-f0-9]{12}$/.test(long.tag ?? ''), long.tag);
  });

  it('refuses single-repository naming without a repository to put images in', () => {
    assert.throws(() => pushDestination(internal('p/app', 'v1'), { pushRegistry: 'quay.io', naming: 'single-repository' }),
      (e: unknown) => e instanceof BuildWatcherError && e.kind === 'invalid');
  });
});
