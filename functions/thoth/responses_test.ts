import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ENCODERS, SECRETS } from '../../test/observability/secret-encodings.js';
import { registerSecret } from '../observability/redact.js';
import {
  parseBuildAnalysisResponse,
  parseDiscovery,
  parseImageAnalysisResponse,
  WITHHELD_ANALYSIS_ID,
} from './responses.js';

const PASSWORD = 'sha256~registry-token-value';

describe('parseBuildAnalysisResponse', () => {
  const full = {
    base_image_analysis: {
      analysis_id: 'package-extract-220106085109-984feaa8a3862285',
      cached: true,
      parameters: { base_image: 'quay.io/x/y:1', registry_verify_tls: true },
    },
    output_image_analysis: {
      analysis_id: 'package-extract-220106085110-0123456789abcdef',
      cached: false,
      parameters: { output_image: 'r:5000/ns/app@sha256:' + '1'.repeat(64), registry_verify_tls: false },
    },
    buildlog_analysis: { analysis_id: 'buildlog-parser-220106085110-fedcba9876543210', cached: false },
    buildlog_document_id: 'buildlog-220106085110-00aa11bb22cc33dd',
  };

  it('reads every id and cached flag', () => {
    assert.deepEqual(parseBuildAnalysisResponse(full, true), {
      ok: true,
      value: {
        base: { analysisId: 'package-extract-220106085109-984feaa8a3862285', cached: true },
        output: { analysisId: 'package-extract-220106085110-0123456789abcdef', cached: false },
        buildLog: { analysisId: 'buildlog-parser-220106085110-fedcba9876543210', cached: false },
        buildLogDocumentId: 'buildlog-220106085110-00aa11bb22cc33dd',
      },
    });
  });

  it('maps null analyses to absent ones and drops the parser id invented without a log', () => {
    const body = { ...full, base_image_analysis: null, buildlog_document_id: null };
    assert.deepEqual(parseBuildAnalysisResponse(body, false), {
      ok: true,
      value: { output: { analysisId: 'package-extract-220106085110-0123456789abcdef', cached: false } },
    });
  });

  const bad: ReadonlyArray<readonly [string, unknown, boolean, RegExp]> = [
    ['a list', [], false, /not a JSON object/],
    ['a string id of the wrong type', { ...full, output_image_analysis: { analysis_id: 7, cached: false } }, true,
      /output_image_analysis\.analysis_id/],
    ['an empty id', { ...full, base_image_analysis: { analysis_id: '', cached: false } }, true, /base_image_analysis/],
    ['cached as a string', { ...full, base_image_analysis: { analysis_id: 'a', cached: 'true' } }, true, /cached/],
    ['no log analysis although a log was sent', { ...full, buildlog_analysis: null }, true, /buildlog_analysis/],
    ['a numeric document id', { ...full, buildlog_document_id: 5 }, true, /buildlog_document_id/],
  ];
  for (const [name, body, logSent, problem] of bad) {
    it(`reports ${name} by field name`, () => {
      const parsed = parseBuildAnalysisResponse(body, logSent);
      assert.equal(parsed.ok, false);
      if (!parsed.ok) assert.match(parsed.problem, problem);
    });
  }
});

describe('parseImageAnalysisResponse', () => {
  it('reads the id and ignores the echoed parameters', () => {
    const body = {
      analysis_id: 'package-extract-220106085109-984feaa8a3862285',
      cached: false,
      parameters: { image: 'r/x:1', registry_user: 'u', registry_password: PASSWORD },
    };
    const parsed = parseImageAnalysisResponse(body);
    assert.deepEqual(parsed, { ok: true, value: { analysisId: 'package-extract-220106085109-984feaa8a3862285', cached: false } });
    assert.ok(!JSON.stringify(parsed).includes(PASSWORD));
  });

  it('reports a problem without the value', () => {
    const parsed = parseImageAnalysisResponse({ analysis_id: PASSWORD, cached: 'no', parameters: {} });
    assert.equal(parsed.ok, false);
    if (!parsed.ok) assert.ok(!parsed.problem.includes(PASSWORD));
    assert.equal(parseImageAnalysisResponse(null).ok, false);
  });
});

describe('parseDiscovery', () => {
  it('reads the route list', () => {
    assert.deepEqual(parseDiscovery({ paths: ['/api/v1/analyze', '/api/v1/build-analysis'] }), {
      ok: true,
      value: ['/api/v1/analyze', '/api/v1/build-analysis'],
    });
  });
  it('rejects anything else', () => {
    assert.equal(parseDiscovery('<html>').ok, false);
    assert.equal(parseDiscovery({ paths: [1] }).ok, false);
    assert.equal(parseDiscovery({}).ok, false);
  });
});


describe('analysis ids from a hostile or broken Thoth', () => {
  for (const secret of SECRETS) registerSecret(secret, 'robot$builder');
  const idOf = (analysisId: string) => {
    const parsed = parseImageAnalysisResponse({ analysis_id: analysisId, cached: false, parameters: {} });
    return parsed.ok ? parsed.value.analysisId : parsed.problem;
  };

  it('keeps ids of the shape Thoth makes', () => {
    for (const id of ['package-extract-220106085109-984feaa8a3862285', 'buildlog-parser-260101120000-0123456789abcdef', 'adviser-220106085109-984feaa8a3862285']) {
      assert.equal(idOf(id), id);
    }
  });

  it('withholds an id holding a secret in any encoding of the table, or one of another shape', () => {
    for (const secret of SECRETS) {
      for (const [encoding, encode] of Object.entries(ENCODERS)) {
        const { text } = encode(secret);
        assert.equal(idOf(text), WITHHELD_ANALYSIS_ID, `${JSON.stringify(secret)} as ${encoding}`);
        // Shaped like an id: only redaction can tell.
        if (/^[a-z0-9-]{1,40}$/.test(text)) assert.equal(idOf(`${text}-220106085109-984feaa8a3862285`), WITHHELD_ANALYSIS_ID, `${encoding}, shaped as an id`);
      }
    }
    for (const broken of ['', 'x'.repeat(10_000), 'package-extract-1', 'package-extract-220106085109-984feaa8a3862285\n', '../../etc/passwd']) {
      assert.notEqual(idOf(broken), broken);
    }
  });
});
