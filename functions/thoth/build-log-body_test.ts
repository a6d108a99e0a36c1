import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cutMarker, encodeBuildAnalysisBody, THOTH_MAX_BODY_BYTES } from './build-log-body.js';
import type { BuildAnalysisBody } from './requests.js';

function withLog(log: string): BuildAnalysisBody {
  return {
    output_image: 'registry.example:5000/ns/app@sha256:' + 'a'.repeat(64),
    build_log: { log, apiversion: '/apis/build.openshift.io/v1/namespaces/ns/builds/app-1', kind: 'BuildLog' },
  };
}

function sentLog(json: string): string {
  const parsed: unknown = JSON.parse(json);
  assert.ok(typeof parsed === 'object' && parsed !== null && 'build_log' in parsed);
  const buildLog = parsed.build_log;
  assert.ok(typeof buildLog === 'object' && buildLog !== null && 'log' in buildLog);
  assert.equal(typeof buildLog.log, 'string');
  return String(buildLog.log);
}

describe('encodeBuildAnalysisBody', () => {
  it('sends a small body unchanged', () => {
    const body = withLog('Step 1/3 : FROM ubi9\nerror: nothing\n');
    const encoded = encodeBuildAnalysisBody(body);
    assert.equal(encoded.json, JSON.stringify(body));
    assert.equal(encoded.logBytesCut, 0);
    assert.equal(encoded.bytes, Buffer.byteLength(encoded.json));
  });

  it('sends a body without a log unchanged', () => {
    const body: BuildAnalysisBody = { base_image: 'quay.io/a/b:1' };
    assert.equal(encodeBuildAnalysisBody(body).json, '{"base_image":"quay.io/a/b:1"}');
  });

  it('cuts a 5 MiB log from the front, keeps the tail and says how much was cut', () => {
    const line = (n: number) => `line ${String(n).padStart(7, '0')} ${'x'.repeat(40)}\n`;
    const lines = Array.from({ length: 100_000 }, (_, n) => line(n));
    lines.push('ERROR: pip install failed: No matching distribution found for tensorflow==9.9\n');
    const log = lines.join('');
    assert.ok(Buffer.byteLength(log) > 5 * 1024 * 1024);

    const encoded = encodeBuildAnalysisBody(withLog(log));
    assert.ok(encoded.bytes <= THOTH_MAX_BODY_BYTES, `${encoded.bytes} bytes`);
    assert.ok(encoded.bytes > THOTH_MAX_BODY_BYTES - 64 * 1024, 'uses most of the allowance');
    const sent = sentLog(encoded.json);
    const [first, second] = sent.split('\n');
    assert.equal(first + '\n', cutMarker(encoded.logBytesCut));
    assert.match(second ?? '', /^line \d{7} x{40}$/, 'the first kept line is whole');
    assert.ok(sent.endsWith('No matching distribution found for tensorflow==9.9\n'));
    const kept = sent.slice(cutMarker(encoded.logBytesCut).length);
    assert.equal(Buffer.byteLength(log) - Buffer.byteLength(kept), encoded.logBytesCut);
    assert.ok(log.endsWith(kept));
  });

  it('accounts for JSON escapes and multi-byte characters', () => {
    // Quotes and control characters double or sextuple in JSON; emoji take four bytes.
    const unit = '"\\\t\u0001é漢😀\n';
    const log = unit.repeat(400_000);
    const limit = 1024 * 1024;
    const encoded = encodeBuildAnalysisBody(withLog(log), limit);
    assert.ok(encoded.bytes <= limit, `${encoded.bytes} > ${limit}`);
    assert.ok(encoded.bytes > limit - 200, `${encoded.bytes} wastes room`);
    const kept = sentLog(encoded.json).slice(cutMarker(encoded.logBytesCut).length);
    assert.ok(log.endsWith(kept));
    assert.ok(!/^[\udc00-\udfff]/.test(kept), 'no split surrogate pair');
  });

  it('never splits a surrogate pair at the cut', () => {
    const log = '😀'.repeat(300_000);
    for (const limit of [100_003, 100_004, 100_005, 100_006]) {
      const encoded = encodeBuildAnalysisBody(withLog(log), limit);
      assert.ok(encoded.bytes <= limit);
      const kept = sentLog(encoded.json).slice(cutMarker(encoded.logBytesCut).length);
      assert.ok(/^(😀)+$/u.test(kept), `limit ${limit}`);
    }
  });

  it('throws a RangeError when nothing but the log can be cut', () => {
    assert.throws(() => encodeBuildAnalysisBody({ base_image: 'x'.repeat(200) }, 100), RangeError);
    assert.throws(() => encodeBuildAnalysisBody(withLog('y'.repeat(500)), 150), RangeError);
  });
});
