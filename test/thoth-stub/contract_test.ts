import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ANALYZE_QUERY, BUILD_ANALYSIS_QUERY, checkBuildDetail, checkQuery, truthy } from './contract.js';

describe('checkQuery', () => {
  it('accepts declared parameters and converts their types', () => {
    const query = new URLSearchParams('output_registry_user=u&output_registry_password=p&output_registry_verify_tls=False&force=TRUE&environment_type=buildtime');
    assert.deepEqual(checkQuery(query, BUILD_ANALYSIS_QUERY), {
      ok: true,
      value: {
        output_registry_user: 'u',
        output_registry_password: 'p',
        output_registry_verify_tls: false,
        force: true,
        environment_type: 'buildtime',
      },
    });
  });

  const rejected: ReadonlyArray<readonly [string, string, typeof ANALYZE_QUERY, string]> = [
    ['an unknown parameter', 'registry_user=u', BUILD_ANALYSIS_QUERY, 'Extra query parameter(s) registry_user not in spec'],
    ['a parameter of the other endpoint', 'image=x&base_registry_user=u', ANALYZE_QUERY, 'Extra query parameter(s) base_registry_user not in spec'],
    ['a repeated parameter', 'image=x&image=y', ANALYZE_QUERY, "Query parameter 'image' given more than once"],
    ['a missing required parameter', 'force=true', ANALYZE_QUERY, "Missing query parameter 'image'"],
    ['a boolean that is not one', 'image=x&verify_tls=1', ANALYZE_QUERY, "Wrong type, expected 'boolean' for query parameter 'verify_tls'"],
    ['an unknown environment type', 'environment_type=dev', BUILD_ANALYSIS_QUERY, "'dev' is not one of ['buildtime', 'runtime']"],
  ];
  for (const [name, search, spec, detail] of rejected) {
    it(`rejects ${name}`, () => {
      assert.deepEqual(checkQuery(new URLSearchParams(search), spec), { ok: false, detail });
    });
  }
});

describe('checkBuildDetail', () => {
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('accepts the documented body, nulls included', () => {
    const body = { base_image: null, output_image: 'r/a:1', build_log: { log: 'x', apiversion: null, kind: 'BuildLog', metadata: 'string' } };
    assert.deepEqual(checkBuildDetail('application/json; charset=utf-8', json(body)), { ok: true, value: body });
  });

  const rejected: ReadonlyArray<readonly [string, string | undefined, Buffer, RegExp]> = [
    ['a null build log', 'application/json', json({ build_log: null }), /None is not of type 'object' - 'build_log'/],
    ['a build log string', 'application/json', json({ build_log: 'log' }), /is not of type 'object'/],
    ['metadata as an object', 'application/json', json({ build_log: { log: 'x', metadata: { a: 1 } } }), /object is not of type 'string' - 'build_log.metadata'/],
    ['a numeric image', 'application/json', json({ output_image: 5 }), /number is not of type 'string' - 'output_image'/],
    ['a misspelt field', 'application/json', json({ buildlog: {} }), /'buildlog' was unexpected/],
    ['a list', 'application/json', json([]), /is not of type 'object'/],
    ['broken JSON', 'application/json', Buffer.from('{"output_image": '), /not valid JSON/],
    ['an empty body', 'application/json', Buffer.alloc(0), /not valid JSON/],
  ];
  for (const [name, contentType, raw, detail] of rejected) {
    it(`rejects ${name}`, () => {
      const checked = checkBuildDetail(contentType, raw);
      assert.equal(checked.ok, false);
      if (!checked.ok) assert.match(checked.detail, detail);
    });
  }

  it('answers 415 for a body that is not JSON', () => {
    assert.deepEqual(checkBuildDetail('text/plain', json({})), {
      ok: false,
      status: 415,
      detail: 'Invalid Content-type (text/plain), expected JSON data',
    });
    assert.equal(checkBuildDetail(undefined, json({})).ok, false);
  });
});

describe('truthy', () => {
  it('follows Python', () => {
    assert.deepEqual([undefined, null, '', {}, [], 0, false].map(truthy), [false, false, false, false, false, false, false]);
    assert.deepEqual(['x', { log: '' }, [1]].map(truthy), [true, true, true]);
  });
});
