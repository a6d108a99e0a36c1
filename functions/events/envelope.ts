/**
 * What a request must be before anything parses it, and what a CloudEvent's envelope must be: CloudEvents 1.0, in the two
 * content modes the sources use (binary with a JSON body, as the ApiServerSource adapter, the PingSource, the Broker and the
 * function's own hand-off send; structured JSON, as people send by hand). The runtime's SDK is lenient where the spec is not
 * (it takes a missing specversion for 1.0, replaces an unreadable `time` with the current time, reads 0.3 events), so these
 * rules are the function's own. Every refusal is one line saying why.
 */
import { describeValue, isRecord } from '../kube/object.js';

export interface Refusal { readonly status: 400 | 415; readonly reason: string }

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

const JSON_TYPE = 'application/json';
export const STRUCTURED_TYPE = 'application/cloudevents+json';
const BATCH_TYPE = 'application/cloudevents-batch+json';
const ACCEPTED = `a CloudEvent comes as ${JSON_TYPE} (binary mode) or ${STRUCTURED_TYPE} (structured mode)`;

/** The context attributes of CloudEvents 1.0 (datacontenttype is Content-Type in binary mode); other names are extensions. */
const REQUIRED = ['id', 'source', 'type'] as const;
const OPTIONAL = ['subject', 'time', 'dataschema'] as const;
const EXTENSION_NAME = /^[a-z0-9]+$/;
/** RFC 3339 `date-time`, as the spec requires of `time`. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

const header = (headers: Headers, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : (value as string | undefined);
};

/** The media type alone, lower case, without parameters; '' when there is none. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function validTime(value: string): boolean {
  const match = RFC3339.exec(value);
  if (match === null) return false;
  const [year, month, day, hour, minute, second, offsetHour, offsetMinute] = [1, 2, 3, 4, 5, 6, 9, 10].map((i) => Number(match[i] ?? 0)) as
    [number, number, number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth && hour <= 23 && minute <= 59 && second <= 60 && offsetHour <= 23 && offsetMinute <= 59;
}

/** Why the attribute values (strings, whatever the mode) break CloudEvents 1.0, or undefined. */
function attributeRefusal(get: (name: string) => unknown, names: readonly string[]): string | undefined {
  const specversion = get('specversion');
  if (specversion !== '1.0') return `${specversion === undefined ? 'no specversion' : `specversion ${describeValue(specversion)}`}: only CloudEvents 1.0 is accepted`;
  for (const name of REQUIRED) {
    const value = get(name);
    if (typeof value !== 'string' || value === '') return `CloudEvent attribute ${name}: expected a non-empty string, got ${describeValue(value)}`;
  }
  for (const name of OPTIONAL) {
    const value = get(name);
    if (value !== undefined && (typeof value !== 'string' || value === '')) return `CloudEvent attribute ${name}: expected a non-empty string, got ${describeValue(value)}`;
  }
  const time = get('time');
  if (typeof time === 'string' && !validTime(time)) return `CloudEvent attribute time ${describeValue(time)}: not an RFC 3339 timestamp`;
  const dataschema = get('dataschema');
  if (typeof dataschema === 'string' && !URL.canParse(dataschema)) return `CloudEvent attribute dataschema ${describeValue(dataschema)}: not an absolute URI`;
  if (get('datacontentencoding') !== undefined) return 'datacontentencoding is a CloudEvents 0.3 attribute: 1.0 carries binary data as data_base64';
  const badName = names.find((name) => !EXTENSION_NAME.test(name));
  if (badName !== undefined) return `CloudEvent attribute name ${describeValue(badName)}: names are lower-case letters and digits only`;
  return undefined;
}

/** A binary-mode event: its attributes are the `ce-` headers, its data the body. */
function binaryRefusal(headers: Headers): string | undefined {
  const names = Object.keys(headers).filter((name) => name.startsWith('ce-')).map((name) => name.slice(3));
  return attributeRefusal((name) => header(headers, `ce-${name}`), names);
}

/**
 * Why a request must not reach a parser, from its headers alone, before a byte of its body is read: 400 for what claims to be
 * a CloudEvent, 415 for anything else with a body the function cannot read. Nothing else reaches a parser, so each parser
 * that remains applies FUNC_BODY_LIMIT and the body deadline (functions/events/request-deadline.ts).
 */
export function requestRefusal(headers: Headers): Refusal | undefined {
  const type = mediaType(header(headers, 'content-type'));
  const binary = Object.keys(headers).some((name) => name.startsWith('ce-'));
  const structured = type === STRUCTURED_TYPE;
  const status = binary || structured || type.startsWith('application/cloudevents') ? 400 : 415;
  if (type === BATCH_TYPE) return { status, reason: `batch mode (${BATCH_TYPE}) is not supported: send one CloudEvent per request` };
  const encoding = header(headers, 'content-encoding');
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return { status, reason: `content-encoding ${describeValue(encoding)} is not accepted: send the body uncompressed` };
  }
  const length = header(headers, 'content-length');
  const hasBody = header(headers, 'transfer-encoding') !== undefined || (length !== undefined && length.trim() !== '0');
  if (hasBody && type !== JSON_TYPE && !structured) {
    return { status, reason: `${type === '' ? 'a body without a content type' : `content type ${describeValue(type)}`} is not accepted: ${ACCEPTED}` };
  }
  if (binary && !structured) {
    const reason = binaryRefusal(headers);
    if (reason !== undefined) return { status: 400, reason };
  }
  return undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Why a parsed structured-mode body is not a CloudEvents 1.0 event whose data is JSON, or undefined. */
export function structuredRefusal(event: unknown): string | undefined {
  if (!isRecord(event)) return `a structured CloudEvent is a JSON object, not ${describeValue(event)}`;
  const names = Object.keys(event).filter((name) => name !== 'data' && name !== 'data_base64' && name !== 'datacontenttype');
  const attributes = attributeRefusal((name) => event[name], names);
  if (attributes !== undefined) return attributes;
  for (const name of names) {
    const value = event[name];
    if (!(typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isInteger(value)))) {
      return `CloudEvent attribute ${name}: expected a string, boolean or integer, got ${describeValue(value)}`;
    }
  }
  const contentType = event['datacontenttype'];
  if (contentType !== undefined && (typeof contentType !== 'string' || mediaType(contentType) !== JSON_TYPE)) {
    return `datacontenttype ${describeValue(contentType)} contradicts the event: its data is JSON (${JSON_TYPE})`;
  }
  const base64 = event['data_base64'];
  if (base64 !== undefined) {
    if ('data' in event) return 'a CloudEvent has data or data_base64, not both';
    if (typeof base64 !== 'string' || !BASE64.test(base64)) return `data_base64: expected base64, got ${describeValue(base64)}`;
  }
  return undefined;
}
