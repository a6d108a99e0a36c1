/**
 * The Kubernetes object model: coordinates, objects validated at the boundary, list items, and the one function that builds API
 * paths. Everything past `parseKubeObject` trusts the shape (not the truth: objects are re-read live before acting).
 */
import type { SourceObjectRef } from '../domain/built-image.js';
import { acceptedKinds, kindKey, kindOf, KINDS } from '../domain/kinds.js';
import { invalid } from '../errors.js';

/** Where an object is: the domain's reference to it without the uid, which only a read gives. */
export type ObjectCoordinates = Omit<SourceObjectRef, 'uid'>;

/** A Kubernetes object as JSON, with the fields every object has checked. */
export interface KubeObject extends ObjectCoordinates {
  readonly uid: string;
  readonly resourceVersion: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly raw: Readonly<Record<string, unknown>>;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const MAX_NAME = 253;

/** `Kind namespace/name`: how logs, messages and answers name an object. */
export const objectLabel = (object: Pick<ObjectCoordinates, 'kind' | 'namespace' | 'name'>): string => `${object.kind} ${object.namespace}/${object.name}`;

/** `apiVersion/kind/namespace/name`: one object, as the key of maps and queues. */
export const objectKey = (ref: ObjectCoordinates): string => `${kindKey(ref)}/${ref.namespace}/${ref.name}`;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a value is, for messages, without echoing long input. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? `a ${value.length}-character string` : JSON.stringify(value);
  return `a ${typeof value}`;
}

function field(record: Record<string, unknown>, key: string, where: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value === '') throw invalid(`${where}.${key}: expected a non-empty string, got ${describeValue(value)}`);
  return value;
}

function objectName(record: Record<string, unknown>, key: string, where: string): string {
  const value = field(record, key, where);
  if (value.length > MAX_NAME || !NAME.test(value)) throw invalid(`${where}.${key}: expected a Kubernetes object name, got ${describeValue(value)}`);
  return value;
}

/** Checks `apiVersion/kind` against the kind table; 422 for anything else. */
function kindField(record: Record<string, unknown>, where: string): { apiVersion: string; kind: string } {
  const apiVersion = field(record, 'apiVersion', where);
  const kind = field(record, 'kind', where);
  if (kindOf(apiVersion, kind) === undefined) {
    throw invalid(`unsupported object ${kindKey({ apiVersion, kind })}: expected one of ${acceptedKinds().join(', ')}`, 422);
  }
  return { apiVersion, kind };
}

/** Validates a Kubernetes object of one of our kinds (an event's payload, or read back). */
export function parseKubeObject(value: unknown, where = 'object'): KubeObject {
  if (!isRecord(value)) throw invalid(`${where}: expected a Kubernetes object, got ${describeValue(value)}`);
  const { apiVersion, kind } = kindField(value, where);
  const metadata = value['metadata'];
  if (!isRecord(metadata)) throw invalid(`${where}.metadata: expected an object, got ${describeValue(metadata)}`);
  const annotations = metadata['annotations'] ?? {};
  if (!isRecord(annotations) || !Object.values(annotations).every((v) => typeof v === 'string')) {
    throw invalid(`${where}.metadata.annotations: expected a map of strings`);
  }
  const uid = metadata['uid'];
  const resourceVersion = metadata['resourceVersion'];
  return {
    apiVersion, kind, namespace: objectName(metadata, 'namespace', `${where}.metadata`), name: objectName(metadata, 'name', `${where}.metadata`),
    uid: typeof uid === 'string' ? uid : '', resourceVersion: typeof resourceVersion === 'string' ? resourceVersion : '',
    annotations: annotations as Record<string, string>, raw: value,
  };
}

/** `{apiVersion, kind, name, namespace}`, as a Reference-mode event carries it. */
export function parseCoordinates(value: unknown, where: string): ObjectCoordinates {
  if (!isRecord(value)) throw invalid(`${where}: expected {apiVersion, kind, name, namespace}, got ${describeValue(value)}`);
  const { apiVersion, kind } = kindField(value, where);
  return { apiVersion, kind, namespace: objectName(value, 'namespace', where), name: objectName(value, 'name', where) };
}

/** A list's items carry no apiVersion/kind of their own: the list they came from gives them. */
export function parseListItem(item: unknown, collection: { apiVersion: string; kind: string }): KubeObject {
  if (!isRecord(item)) throw invalid(`${collection.kind} list item: expected an object, got ${describeValue(item)}`);
  return parseKubeObject({ ...item, apiVersion: collection.apiVersion, kind: collection.kind }, collection.kind);
}

/** The domain's reference to the object an image came from. */
export function sourceRef(object: KubeObject): SourceObjectRef {
  return { apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name, uid: object.uid };
}

/** A collection or object of a kind in the table, or of a core-group resource (`v1`, `events`). */
export type ApiTarget =
  | { readonly apiVersion: string; readonly kind: string; readonly namespace?: string; readonly name?: string }
  | { readonly apiVersion: string; readonly plural: string; readonly namespace?: string; readonly name?: string };

/** The one function that builds API paths: `/api/v1/…` for the core group, `/apis/g/v/…` else. */
export function apiPath(target: ApiTarget, subresource?: string): string {
  const plural = 'plural' in target ? target.plural : pluralOf(target);
  const slash = target.apiVersion.indexOf('/');
  const base = slash < 0 ? `/api/${target.apiVersion}` : `/apis/${target.apiVersion}`;
  const scope = target.namespace === undefined ? '' : `/namespaces/${encodeURIComponent(target.namespace)}`;
  const name = target.name === undefined ? '' : `/${encodeURIComponent(target.name)}`;
  return `${base}${scope}/${plural}${name}${subresource === undefined ? '' : `/${subresource}`}`;
}

function pluralOf(target: { apiVersion: string; kind: string }): string {
  const kind = kindOf(target.apiVersion, target.kind);
  if (kind === undefined) throw invalid(`unsupported object ${kindKey(target)}`, 422);
  return KINDS[kind].plural;
}
