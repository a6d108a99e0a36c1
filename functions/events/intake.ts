/**
 * The boundary for incoming CloudEvents: everything past here is typed and trusted to be
 * well-formed (not to be true: the object is re-read from the API server before acting).
 */
import type { SourceObjectRef } from '../domain/built-image.js';
import { invalid } from '../errors.js';
import {
  APISERVER_REFERENCE_PREFIX,
  APISERVER_RESOURCE_PREFIX,
  PING_SOURCE_TYPE,
  SWEEP_REQUESTED_TYPE,
  type ObjectAction,
} from './types.js';

/** The kinds the function knows, by `apiVersion/kind`. */
export const WATCHED_KINDS = {
  'build.openshift.io/v1/Build': 'builds',
  'image.openshift.io/v1/ImageStream': 'imagestreams',
  'tekton.dev/v1/TaskRun': 'taskruns',
  'tekton.dev/v1/PipelineRun': 'pipelineruns',
  'tekton.dev/v1beta1/TaskRun': 'taskruns',
  'tekton.dev/v1beta1/PipelineRun': 'pipelineruns',
  'shipwright.io/v1beta1/BuildRun': 'buildruns',
} as const satisfies Record<string, string>;

export type WatchedKind = keyof typeof WATCHED_KINDS;

export interface ObjectCoordinates {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** A Kubernetes object as JSON, with the fields every object has checked. */
export interface KubeObject extends ObjectCoordinates {
  readonly uid: string;
  readonly resourceVersion: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly raw: Readonly<Record<string, unknown>>;
}

export type IncomingEvent =
  | { readonly mode: 'resource'; readonly action: ObjectAction; readonly object: KubeObject }
  | { readonly mode: 'reference'; readonly action: ObjectAction; readonly ref: ObjectCoordinates }
  | { readonly mode: 'sweep' };

/** What faas-js-runtime hands us; typed structurally so no CloudEvent class crosses versions. */
export interface CloudEventLike {
  readonly type?: unknown;
  readonly data?: unknown;
  readonly data_base64?: unknown;
  readonly [extension: string]: unknown;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const MAX_NAME = 253;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a ${value.length}-character string` : JSON.stringify(value);
  return `a ${typeof value}`;
}

function field(record: Record<string, unknown>, key: string, where: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value === '') {
    throw invalid(`${where}.${key}: expected a non-empty string, got ${describe(value)}`);
  }
  return value;
}

function objectName(record: Record<string, unknown>, key: string, where: string): string {
  const value = field(record, key, where);
  if (value.length > MAX_NAME || !NAME.test(value)) {
    throw invalid(`${where}.${key}: expected a Kubernetes object name, got ${describe(value)}`);
  }
  return value;
}

function kindKey(apiVersion: string, kind: string): WatchedKind {
  const key = `${apiVersion}/${kind}`;
  if (!(key in WATCHED_KINDS)) {
    throw invalid(`unsupported object ${key}: expected one of ${Object.keys(WATCHED_KINDS).join(', ')}`, 422);
  }
  return key as WatchedKind;
}

function action(type: string, prefix: string): ObjectAction {
  const suffix = type.slice(prefix.length);
  if (suffix === 'add' || suffix === 'update' || suffix === 'delete') return suffix;
  throw invalid(`unknown event type ${describe(type)}: expected ${prefix}add, update or delete`);
}

function eventData(event: CloudEventLike): unknown {
  let data = event.data;
  if (data === undefined && typeof event.data_base64 === 'string') {
    data = Buffer.from(event.data_base64, 'base64').toString('utf8');
  }
  if (Buffer.isBuffer(data)) data = data.toString('utf8');
  if (typeof data === 'string') {
    try {
      return JSON.parse(data) as unknown;
    } catch {
      throw invalid('event data: malformed JSON');
    }
  }
  return data;
}

/** Validates a Kubernetes object sent in Resource mode (or read back from the API server). */
export function parseKubeObject(value: unknown, where = 'object'): KubeObject {
  if (!isRecord(value)) throw invalid(`${where}: expected a Kubernetes object, got ${describe(value)}`);
  const apiVersion = field(value, 'apiVersion', where);
  const kind = field(value, 'kind', where);
  kindKey(apiVersion, kind);
  const metadata = value['metadata'];
  if (!isRecord(metadata)) throw invalid(`${where}.metadata: expected an object, got ${describe(metadata)}`);
  const annotations = metadata['annotations'] ?? {};
  if (!isRecord(annotations) || !Object.values(annotations).every((v) => typeof v === 'string')) {
    throw invalid(`${where}.metadata.annotations: expected a map of strings`);
  }
  const uid = metadata['uid'];
  const resourceVersion = metadata['resourceVersion'];
  return {
    apiVersion,
    kind,
    namespace: objectName(metadata, 'namespace', `${where}.metadata`),
    name: objectName(metadata, 'name', `${where}.metadata`),
    uid: typeof uid === 'string' ? uid : '',
    resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : '',
    annotations: annotations as Record<string, string>,
    raw: value,
  };
}

/** The domain's reference to the object an image came from. */
export function sourceRef(object: KubeObject): SourceObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace: object.namespace,
    name: object.name,
    uid: object.uid,
    ...(object.resourceVersion !== '' ? { resourceVersion: object.resourceVersion } : {}),
  };
}

function parseReference(value: unknown): ObjectCoordinates {
  if (!isRecord(value)) throw invalid(`reference: expected {apiVersion, kind, name, namespace}, got ${describe(value)}`);
  const apiVersion = field(value, 'apiVersion', 'reference');
  const kind = field(value, 'kind', 'reference');
  kindKey(apiVersion, kind);
  return {
    apiVersion,
    kind,
    namespace: objectName(value, 'namespace', 'reference'),
    name: objectName(value, 'name', 'reference'),
  };
}

/** The adapter's `kind`/`name`/`namespace` extensions must agree with the data they describe. */
function checkExtensions(event: CloudEventLike, object: ObjectCoordinates): void {
  for (const key of ['kind', 'name', 'namespace'] as const) {
    const extension = event[key];
    if (extension !== undefined && extension !== object[key]) {
      throw invalid(`extension ${key}=${describe(extension)} does not match the object's ${describe(object[key])}`);
    }
  }
}

/** Turns a CloudEvent into a typed IncomingEvent, or throws an `invalid` BuildWatcherError. */
export function parseIncomingEvent(event: CloudEventLike): IncomingEvent {
  const type = event.type;
  if (typeof type !== 'string' || type === '') throw invalid('CloudEvent without a type');
  if (type === PING_SOURCE_TYPE || type === SWEEP_REQUESTED_TYPE) return { mode: 'sweep' };
  if (type.startsWith(APISERVER_RESOURCE_PREFIX)) {
    const kind = action(type, APISERVER_RESOURCE_PREFIX);
    const object = parseKubeObject(eventData(event));
    checkExtensions(event, object);
    return { mode: 'resource', action: kind, object };
  }
  if (type.startsWith(APISERVER_REFERENCE_PREFIX)) {
    const kind = action(type, APISERVER_REFERENCE_PREFIX);
    const ref = parseReference(eventData(event));
    checkExtensions(event, ref);
    return { mode: 'reference', action: kind, ref };
  }
  throw invalid(
    `unknown event type ${describe(type)}: expected ${APISERVER_RESOURCE_PREFIX}*, ${APISERVER_REFERENCE_PREFIX}* or ${SWEEP_REQUESTED_TYPE}`,
  );
}

export function pluralOf(object: ObjectCoordinates): string {
  return WATCHED_KINDS[kindKey(object.apiVersion, object.kind)];
}

