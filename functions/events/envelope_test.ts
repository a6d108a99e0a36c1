import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestRefusal, structuredRefusal } from './envelope.js';

const binary = { 'content-type': 'application/json', 'content-length': '2', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't' };
const structured = { specversion: '1.0', id: '1', source: '/s', type: 't' };

describe('the request gate and the CloudEvents 1.0 envelope', () => {
  it('lets through what the sources send, and requests without a body', () => {
    for (const headers of [
      binary, { ...binary, 'content-type': 'application/json; charset=utf-8' }, { 'content-type': 'application/cloudevents+json', 'content-length': '9' },
      { 'content-type': 'APPLICATION/JSON', 'content-length': '2' }, {}, { 'content-length': '0', 'content-type': 'text/plain' }, { ...binary, 'content-encoding': 'identity' },
    ]) assert.equal(requestRefusal(headers), undefined, JSON.stringify(headers));
  });

  it('answers 415 for a body the function cannot read, 400 when the request claims to be a CloudEvent', () => {
    assert.equal(requestRefusal({ 'content-type': 'text/plain', 'content-length': '1' })?.status, 415);
    assert.equal(requestRefusal({ 'transfer-encoding': 'chunked' })?.status, 415);
    assert.equal(requestRefusal({ ...binary, 'content-type': 'text/plain' })?.status, 400);
    assert.equal(requestRefusal({ 'content-type': 'application/cloudevents-batch+json', 'content-length': '2' })?.status, 400);
    assert.equal(requestRefusal({ 'content-type': 'application/json', 'content-length': '2', 'content-encoding': 'gzip' })?.status, 415);
  });

  it('reads time as RFC 3339, with fractions, offsets and leap seconds, and nothing else', () => {
    for (const time of ['2026-12-04T19:53:45Z', '2026-12-04t19:53:45.123456789z', '2024-02-29T00:00:00+05:30', '2016-12-31T23:59:60Z']) {
      assert.equal(structuredRefusal({ ...structured, time }), undefined, time);
    }
    for (const time of ['2026-12-04', '2026-12-04 19:53:45Z', '2025-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-12-04T24:00:00Z', '2026-12-04T19:53:45', '2026-12-04T19:53:45+24:00']) {
      assert.match(structuredRefusal({ ...structured, time }) ?? '', /not an RFC 3339 timestamp/, time);
    }
  });

  it('never echoes a long value', () => {
    const long = 'x'.repeat(5000);
    for (const refusal of [requestRefusal({ ...binary, 'ce-specversion': long })?.reason, structuredRefusal({ ...structured, datacontenttype: long })]) {
      assert.ok(refusal !== undefined && !refusal.includes(long.slice(0, 41)) && refusal.length < 200, refusal);
    }
  });
});
