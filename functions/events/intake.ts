/**
 * The boundary for incoming CloudEvents: a CloudEvent becomes a typed IncomingEvent, or an `invalid` error saying why not. The
 * object model itself is functions/kube/object.ts.
 */
import { invalid } from '../errors.js';
import { parseBoundedJson } from './json-shape.js';
import { describeValue, isRecord, parseCoordinates, parseKubeObject, type KubeObject, type ObjectCoordinates } from '../kube/object.js';
import { APISERVER_REFERENCE_PREFIX, APISERVER_RESOURCE_PREFIX, OBJECT_PENDING_TYPE, PING_SOURCE_TYPE, SWEEP_REQUESTED_TYPE, type ObjectAction } from './types.js';

export type IncomingEvent =
  | { readonly mode: 'resource'; readonly action: ObjectAction; readonly object: KubeObject }
  | { readonly mode: 'reference'; readonly action: ObjectAction; readonly ref: ObjectCoordinates }
  | { readonly mode: 'sweep' }
  /** An object a sweep handed to the Broker: worked on like a live update, re-read from the API server. */
  | { readonly mode: 'pending'; readonly ref: ObjectCoordinates };

/** What faas-js-runtime hands us; typed structurally so no CloudEvent class crosses versions. */
export interface CloudEventLike {
  readonly type?: unknown;
  readonly data?: unknown;
  readonly data_base64?: unknown;
  readonly [extension: string]: unknown;
}

function action(type: string, prefix: string): ObjectAction {
  const suffix = type.slice(prefix.length);
  if (suffix === 'add' || suffix === 'update' || suffix === 'delete') return suffix;
  throw invalid(`unknown event type ${describeValue(type)}: expected ${prefix}add, update or delete`);
}

function eventData(event: CloudEventLike): unknown {
  let data = event.data;
  if (data === undefined && typeof event.data_base64 === 'string') data = Buffer.from(event.data_base64, 'base64').toString('utf8');
  if (Buffer.isBuffer(data)) data = data.toString('utf8');
  if (typeof data !== 'string') return data;
  return parseBoundedJson(data, 'event data');
}

/** The adapter's `kind`/`name`/`namespace` extensions must agree with the data they describe. */
function checkExtensions(event: CloudEventLike, object: ObjectCoordinates): void {
  for (const key of ['kind', 'name', 'namespace'] as const) {
    const extension = event[key];
    if (extension !== undefined && extension !== object[key]) {
      throw invalid(`extension ${key}=${describeValue(extension)} does not match the object's ${describeValue(object[key])}`);
    }
  }
}

const PENDING_FIELDS = ['apiVersion', 'kind', 'name', 'namespace'];

/** Strict: exactly the four coordinates, each as the reference mode checks it. */
function pendingRef(data: unknown): ObjectCoordinates {
  const extra = isRecord(data) ? Object.keys(data).filter((key) => !PENDING_FIELDS.includes(key)) : [];
  if (extra.length > 0) throw invalid(`${OBJECT_PENDING_TYPE}: unexpected field ${describeValue(extra[0])}: expected only {apiVersion, kind, name, namespace}`);
  return parseCoordinates(data, OBJECT_PENDING_TYPE);
}

/** Turns a CloudEvent into a typed IncomingEvent, or throws an `invalid` BuildWatcherError. */
export function parseIncomingEvent(event: CloudEventLike): IncomingEvent {
  const type = event.type;
  if (typeof type !== 'string' || type === '') throw invalid('CloudEvent without a type');
  if (type === PING_SOURCE_TYPE || type === SWEEP_REQUESTED_TYPE) return { mode: 'sweep' };
  if (type === OBJECT_PENDING_TYPE) return { mode: 'pending', ref: pendingRef(eventData(event)) };
  if (type.startsWith(APISERVER_RESOURCE_PREFIX)) {
    const kind = action(type, APISERVER_RESOURCE_PREFIX);
    const object = parseKubeObject(eventData(event));
    checkExtensions(event, object);
    return { mode: 'resource', action: kind, object };
  }
  if (type.startsWith(APISERVER_REFERENCE_PREFIX)) {
    const kind = action(type, APISERVER_REFERENCE_PREFIX);
    const ref = parseCoordinates(eventData(event), 'reference');
    checkExtensions(event, ref);
    return { mode: 'reference', action: kind, ref };
  }
  throw invalid(
    `unknown event type ${describeValue(type)}: expected ${APISERVER_RESOURCE_PREFIX}*, ${APISERVER_REFERENCE_PREFIX}*, ${SWEEP_REQUESTED_TYPE} or ${OBJECT_PENDING_TYPE}`,
  );
}
