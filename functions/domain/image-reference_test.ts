import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageReference } from './built-image.js';
import { digestProblem, formatImageReference, imageKey, isDigest, parseImageReference } from './image-reference.js';

const D256 = `sha256:${'a1'.repeat(32)}`;
const D512 = `sha512:${'0f'.repeat(64)}`;

describe('isDigest / digestProblem', () => {
  const cases: Array<[string, boolean, RegExp?]> = [
    [D256, true],
    [D512, true],
    ['', false, /empty/],
    ['a1'.repeat(32), false, /without an algorithm/],
    [`SHA256:${'a1'.repeat(32)}`, false, /unsupported/],
    [`md5:${'a1'.repeat(16)}`, false, /unsupported/],
    [`sha256:${'A1'.repeat(32)}`, false, /64 lowercase hex/],
    [`sha256:${'a1'.repeat(31)}`, false, /64 lowercase hex/],
    [`sha256:${'a1'.repeat(32)}0`, false, /64 lowercase hex/],
    [`sha512:${'a1'.repeat(32)}`, false, /128 lowercase hex/],
    [`${D256}\n`, false, /64 lowercase hex/],
    [` ${D256}`, false, /unsupported/],
  ];
  for (const [value, valid, why] of cases) {
    it(`${JSON.stringify(value.slice(0, 24))}… is ${valid ? 'valid' : 'refused'}`, () => {
      assert.equal(isDigest(value), valid);
      const problem = digestProblem(value);
      if (valid) assert.equal(problem, undefined);
      else {
        assert.match(problem ?? '', why ?? /./);
        assert.ok(!(problem ?? '').includes(value) || value === '', 'the problem does not echo the value');
      }
    });
  }
});

describe('parseImageReference accepts', () => {
  const cases: Array<[string, ImageReference]> = [
    ['ubuntu', { registry: 'docker.io', repository: 'library/ubuntu' }],
    ['ubuntu:22.04', { registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' }],
    ['fedora/httpd', { registry: 'docker.io', repository: 'fedora/httpd' }],
    ['docker.io/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu' }],
    ['index.docker.io/ubuntu', { registry: 'docker.io', repository: 'library/ubuntu' }],
    ['index.docker.io/a/b', { registry: 'docker.io', repository: 'a/b' }],
    ['quay.io/thoth-station/s2i-thoth-ubi8-py38', { registry: 'quay.io', repository: 'thoth-station/s2i-thoth-ubi8-py38' }],
    ['quay.io/ns/app', { registry: 'quay.io', repository: 'ns/app' }],
    [
      `image-registry.openshift-image-registry.svc:5000/myproject/app:latest@${D256}`,
      { registry: 'image-registry.openshift-image-registry.svc:5000', repository: 'myproject/app', tag: 'latest', digest: D256 },
    ],
    [`gcr.io/foo/bar@${D512}`, { registry: 'gcr.io', repository: 'foo/bar', digest: D512 }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/a/b/c:v1', { registry: 'localhost:5000', repository: 'a/b/c', tag: 'v1' }],
    ['127.0.0.1:40123/ns/app', { registry: '127.0.0.1:40123', repository: 'ns/app' }],
    ['[::1]:5000/ns/app', { registry: '[::1]:5000', repository: 'ns/app' }],
    ['[fe80::1]/app', { registry: '[fe80::1]', repository: 'app' }],
    ['Registry/app', { registry: 'Registry', repository: 'app' }],
    ['myregistry:5000/app', { registry: 'myregistry:5000', repository: 'app' }],
    ['a.b/x__y.z---w/q_r', { registry: 'a.b', repository: 'x__y.z---w/q_r' }],
    ['quay.io/ns/app:V_1.0-rc', { registry: 'quay.io', repository: 'ns/app', tag: 'V_1.0-rc' }],
    ['localhost:5000', { registry: 'docker.io', repository: 'library/localhost', tag: '5000' }],
  ];
  for (const [input, expected] of cases) {
    it(input, () => {
      assert.deepEqual(parseImageReference(input), { ok: true, reference: expected });
    });
  }
});

describe('parseImageReference refuses', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['x'.repeat(1025), /longer than 1024/],
    ['quay.io/ns/app ', /whitespace/],
    ['quay.io/ns/app\n', /whitespace/],
    ['quay.io/ns/\u0000app', /control/],
    ['https://quay.io/ns/app', /URL/],
    ['oci://quay.io/ns/app', /URL/],
    ['a1'.repeat(32), /bare image ID/],
    [`quay.io/ns/app@${D256}@${D256}`, /more than one '@'/],
    ['quay.io/ns/app@sha256:abc', /malformed sha256/],
    [`quay.io/ns/app@md5:${'a'.repeat(32)}`, /unsupported/],
    [`quay.io/ns/app@`, /empty digest/],
    ['quay.io/ns/app:', /invalid tag/],
    ['quay.io/ns/app:-x', /invalid tag/],
    [`quay.io/ns/app:${'t'.repeat(129)}`, /invalid tag/],
    [`:tag`, /no repository/],
    ['quay.io/', /invalid repository path/],
    ['quay.io//app', /invalid repository path/],
    ['quay.io/ns/App', /lowercase/],
    ['quay.io/ns/-app', /invalid repository path/],
    ['quay.io/ns/a..b', /invalid repository path/],
    ['quay.io/ns/a___b', /invalid repository path/],
    ['-bad.io/app', /invalid registry host/],
    ['bad_host.io/app', /invalid registry host/],
    ['host:99999/app', /invalid registry port/],
    ['host:0/app', /invalid registry port/],
    ['host:/app', /invalid registry port/],
    ['a:b:c/app', /invalid registry port/],
    ['[::1/app', /invalid registry host/],
    ['[zz::1]/app', /invalid registry host/],
    [`quay.io/${'a'.repeat(250)}`, /longer than 255/],
    ['pkg:github/package-url/purl-spec@244fd47e07d1004f0aed9c', /digest/],
  ];
  for (const [input, why] of cases) {
    it(JSON.stringify(input.slice(0, 60)), () => {
      const parsed = parseImageReference(input);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.why, why);
    });
  }

  it('never throws on non-strings from untyped callers', () => {
    for (const value of [undefined, null, 42, {}, []]) {
      const parsed = parseImageReference(value as unknown as string);
      assert.equal(parsed.ok, false);
    }
  });
});

describe('formatImageReference / imageKey', () => {
  const image = { registry: 'quay.io', repository: 'ns/app', tag: 'v1', digest: D256 };

  it('names a pinned image by digest, a tag-only one by tag, an unnamed one as latest', () => {
    assert.equal(formatImageReference(image), `quay.io/ns/app@${D256}`);
    assert.equal(formatImageReference({ registry: 'quay.io', repository: 'ns/app', tag: 'v1' }), 'quay.io/ns/app:v1');
    assert.equal(formatImageReference({ registry: 'quay.io', repository: 'ns/app' }), 'quay.io/ns/app:latest');
  });

  it('reads back as the image it formats', () => {
    assert.deepEqual(parseImageReference(formatImageReference(image)), { ok: true, reference: { registry: 'quay.io', repository: 'ns/app', digest: D256 } });
  });

  it('tells images apart by registry, repository and digest, never by tag', () => {
    assert.equal(imageKey(image), imageKey({ ...image, tag: 'latest' }));
    assert.notEqual(imageKey(image), imageKey({ ...image, repository: 'ns/other' }));
    assert.notEqual(imageKey(image), imageKey({ ...image, digest: D512 }));
  });
});
