/**
 * CloudEvent envelopes that CloudEvents 1.0 (binary and structured JSON content modes) calls invalid, or that the function
 * cannot read, each with the reason its one-line 400 must give; and valid envelopes as the real senders make them, which
 * must still pass. Used by test/function/hostile_test.ts through the real runtime.
 */
import { randomUUID } from 'node:crypto';

export interface EnvelopeCase {
  readonly name: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** What the one-line answer must say (invalid cases). */
  readonly reason: RegExp;
}

const PING = 'dev.knative.sources.ping';
const RUNNING_BUILD = JSON.stringify({
  apiVersion: 'build.openshift.io/v1', kind: 'Build', metadata: { name: 'envelope', namespace: 'myproject', uid: 'uid-envelope', resourceVersion: '1' },
  spec: { strategy: { type: 'Docker' }, output: { to: { kind: 'DockerImage', name: 'registry.example/app:latest' } } }, status: { phase: 'Running' },
});

/** Binary mode as the ApiServerSource adapter sends it; `extra` replaces or adds headers (undefined removes one). */
export function binaryEvent(extra: Readonly<Record<string, string | undefined>> = {}, type = PING): Record<string, string> {
  const headers: Record<string, string | undefined> = {
    'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': randomUUID(), 'ce-source': 'https://10.0.0.1:6443', 'ce-type': type, ...extra,
  };
  return Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** A structured-mode body: a sweep request, with `fields` replacing or adding attributes (undefined removes one). */
export function structuredEvent(fields: Readonly<Record<string, unknown>> = {}): string {
  return JSON.stringify({ specversion: '1.0', id: randomUUID(), source: '/manual', type: PING, datacontenttype: 'application/json', data: {}, ...fields });
}

const STRUCTURED = { 'content-type': 'application/cloudevents+json' };
const binary = (name: string, extra: Readonly<Record<string, string | undefined>>, reason: RegExp, body = '{}'): EnvelopeCase => ({ name, headers: binaryEvent(extra), body, reason });
const structured = (name: string, fields: Readonly<Record<string, unknown>>, reason: RegExp, headers: Readonly<Record<string, string>> = STRUCTURED): EnvelopeCase =>
  ({ name, headers, body: structuredEvent(fields), reason });

const SPECVERSION = /only CloudEvents 1\.0 is accepted/;
const NOT_ACCEPTED = /is not accepted: a CloudEvent comes as application\/json \(binary mode\) or application\/cloudevents\+json \(structured mode\)/;

export const INVALID_ENVELOPES: readonly EnvelopeCase[] = [
  binary('binary, specversion 0.3', { 'ce-specversion': '0.3' }, SPECVERSION),
  binary('binary, specversion 2.0', { 'ce-specversion': '2.0' }, SPECVERSION),
  binary('binary, empty specversion', { 'ce-specversion': '' }, SPECVERSION),
  binary('binary, garbage specversion', { 'ce-specversion': '1.0; drop table' }, SPECVERSION),
  binary('binary, no specversion', { 'ce-specversion': undefined }, /no specversion/),
  structured('structured, specversion 0.3', { specversion: '0.3' }, SPECVERSION),
  structured('structured, specversion 2.0', { specversion: '2.0' }, SPECVERSION),
  structured('structured, specversion a number', { specversion: 1.0 }, SPECVERSION),
  structured('structured, no specversion', { specversion: undefined }, /no specversion/),
  structured('structured, no id', { id: undefined }, /attribute id: expected a non-empty string, got nothing/),
  structured('structured, empty id', { id: '' }, /attribute id: expected a non-empty string/),
  binary('binary, empty id', { 'ce-id': '' }, /attribute id: expected a non-empty string/),
  structured('structured, no source', { source: undefined }, /attribute source/),
  binary('binary, no type', { 'ce-type': undefined }, /attribute type/),
  structured('structured, id a number', { id: 42 }, /attribute id: expected a non-empty string, got a number/),
  structured('structured, subject an object', { subject: { a: 1 } }, /attribute subject/),
  binary('binary, invalid time', { 'ce-time': 'yesterday' }, /time "yesterday": not an RFC 3339 timestamp/),
  structured('structured, invalid time', { time: '2026-13-45T99:00:00Z' }, /not an RFC 3339 timestamp/),
  structured('structured, 30 February', { time: '2026-02-30T10:00:00Z' }, /not an RFC 3339 timestamp/),
  structured('structured, time a number', { time: 1_700_000_000 }, /attribute time/),
  binary('binary, dataschema not a URI', { 'ce-dataschema': 'not a uri' }, /dataschema .*not an absolute URI/),
  structured('structured, datacontenttype text/plain with JSON data', { datacontenttype: 'text/plain' }, /datacontenttype "text\/plain" contradicts/),
  structured('structured, datacontenttype application/xml', { datacontenttype: 'application/xml' }, /datacontenttype "application\/xml" contradicts/),
  structured('structured, data and data_base64', { data_base64: 'e30=' }, /data or data_base64, not both/),
  structured('structured, data_base64 not base64', { data: undefined, data_base64: '***' }, /data_base64: expected base64/),
  binary('binary, text/plain', { 'content-type': 'text/plain' }, NOT_ACCEPTED),
  binary('binary, application/octet-stream', { 'content-type': 'application/octet-stream' }, NOT_ACCEPTED),
  binary('binary, no content type', { 'content-type': undefined }, /a body without a content type is not accepted/),
  binary('binary, application/x-www-form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }, NOT_ACCEPTED, 'a=b'),
  binary('binary, content-encoding gzip over a plain body', { 'content-encoding': 'gzip' }, /content-encoding "gzip" is not accepted/),
  structured('structured, unknown content-encoding', {}, /content-encoding "x-unknown" is not accepted/, { ...STRUCTURED, 'content-encoding': 'x-unknown' }),
  binary('binary, datacontentencoding (0.3)', { 'ce-datacontentencoding': 'base64' }, /datacontentencoding is a CloudEvents 0\.3 attribute/),
  structured('structured, datacontentencoding (0.3)', { datacontentencoding: 'base64' }, /datacontentencoding is a CloudEvents 0\.3 attribute/),
  binary('binary, extension name with an underscore', { 'ce-my_ext': 'x' }, /attribute name "my_ext": names are lower-case letters and digits only/),
  structured('structured, extension name in upper case', { MyExt: 'x' }, /attribute name "MyExt"/),
  structured('structured, extension value an object', { myext: { nested: true } }, /attribute myext: expected a string, boolean or integer/),
  structured('structured, extension value null', { myext: null }, /attribute myext: expected a string, boolean or integer, got null/),
  { name: 'structured, a JSON array', headers: STRUCTURED, body: `[${structuredEvent()}]`, reason: /a structured CloudEvent is a JSON object, not an array/ },
];

/** Valid events as each real sender makes them: they pass the envelope checks (the function answers them 2xx or 422 here). */
export const VALID_ENVELOPES: readonly (Omit<EnvelopeCase, 'reason'> & { readonly status: number })[] = [
  {
    // The ApiServerSource adapter (Resource mode), as the Broker delivers it: with knativearrivaltime and a traceparent.
    name: 'ApiServerSource resource event through the Broker',
    headers: {
      ...binaryEvent({ 'ce-source': 'https://10.0.0.1:6443', 'ce-subject': '/apis/build.openshift.io/v1/namespaces/myproject/builds/envelope',
        'ce-time': '2026-12-04T19:53:45.123456789Z', 'ce-kind': 'Build', 'ce-name': 'envelope', 'ce-namespace': 'myproject', 'ce-apiversion': 'build.openshift.io/v1',
        'ce-knativearrivaltime': '2026-12-04T19:53:45.2Z', 'ce-traceparent': '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, 'dev.knative.apiserver.resource.update'),
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
    body: RUNNING_BUILD,
    status: 204,
  },
  {
    // The shipped PingSource (knative/optional/sweep/pingsource.yaml): JSON data "{}", its extension, an offset time.
    name: 'PingSource',
    headers: binaryEvent({ 'ce-source': '/apis/v1/namespaces/build-watcher/pingsources/build-watcher-sweep', 'ce-buildwatcher': 'sweep', 'ce-time': '2026-12-04T20:00:00+00:00',
      'content-type': 'application/json; charset=utf-8' }),
    body: '{}',
    status: 422,
  },
  // A PingSource without data sends no content type and no body.
  { name: 'PingSource without data', headers: binaryEvent({ 'content-type': undefined }), body: '', status: 422 },
  {
    // The sweep's own hand-off (functions/events/sink.ts), as the Broker delivers it.
    name: 'object.pending hand-off',
    headers: binaryEvent({ 'ce-source': '/build-watcher', 'ce-knativearrivaltime': '2026-12-04T19:53:45Z' }, 'dev.build-watcher.object.pending'),
    body: JSON.stringify({ apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'myproject', name: 'envelope' }),
    status: 422,
  },
  { name: 'structured sweep request by hand', headers: STRUCTURED, body: structuredEvent({ time: '2026-12-04T20:00:00.5Z', subject: 'manual', buildwatcher: 'sweep', attempt: 2, urgent: true }), status: 422 },
  { name: 'structured with data_base64', headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' }, body: structuredEvent({ data: undefined, data_base64: 'e30=' }), status: 422 },
];
