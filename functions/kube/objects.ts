/** Reading and annotating the watched objects through the API server. */
import { parseKubeObject, pluralOf, type KubeObject, type ObjectCoordinates } from '../events/intake.js';
import { transient } from '../errors.js';
import { isKubeStatus, type KubeApi } from './api.js';

export function objectPath(object: ObjectCoordinates): string {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const base = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  return `${base}/namespaces/${encodeURIComponent(object.namespace)}/${pluralOf(object)}/${encodeURIComponent(object.name)}`;
}

function parseAnswer(text: string, what: string): KubeObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw transient(`Kubernetes API returned malformed JSON for ${what}`);
  }
  return parseKubeObject(value, what);
}

/** The object as the API server has it now, or undefined when it no longer exists. */
export async function readObject(api: KubeApi, ref: ObjectCoordinates, signal?: AbortSignal): Promise<KubeObject | undefined> {
  try {
    const answer = await api.request({ method: 'GET', path: objectPath(ref), ...(signal ? { signal } : {}) });
    return parseAnswer(answer.text, `${ref.kind} ${ref.namespace}/${ref.name}`);
  } catch (error) {
    if (isKubeStatus(error, 404)) return undefined;
    throw error;
  }
}

/**
 * Merge-patches annotations only. With `resourceVersion`, the API server refuses (409) when
 * the object changed since it was read: that is how a claim is taken atomically.
 * A null value removes the annotation.
 */
export async function patchAnnotations(
  api: KubeApi,
  object: ObjectCoordinates,
  annotations: Readonly<Record<string, string | null>>,
  options: { resourceVersion?: string; signal?: AbortSignal } = {},
): Promise<KubeObject> {
  const metadata: Record<string, unknown> = { annotations };
  if (options.resourceVersion !== undefined) metadata['resourceVersion'] = options.resourceVersion;
  const answer = await api.request({
    method: 'PATCH',
    path: objectPath(object),
    body: { metadata },
    contentType: 'application/merge-patch+json',
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return parseAnswer(answer.text, `${object.kind} ${object.namespace}/${object.name}`);
}

/**
 * Thoth takes at most 3 MiB per request, so a longer log is cut from the front there anyway;
 * the tail is where the errors are.
 */
const BUILD_LOG_TAIL_BYTES = 3 * 1024 * 1024;

/** `GET …/builds/{name}/log` (text/plain): its last 3 MiB, however long the log. */
export async function readBuildLog(api: KubeApi, build: ObjectCoordinates, signal?: AbortSignal): Promise<string> {
  const answer = await api.request({
    method: 'GET',
    path: `${objectPath(build)}/log`,
    accept: 'text/plain, */*',
    keepTailBytes: BUILD_LOG_TAIL_BYTES,
    ...(signal ? { signal } : {}),
  });
  return answer.text;
}

export interface ObjectPage {
  readonly items: readonly unknown[];
  readonly continueToken: string;
  readonly resourceVersion: string;
}

/** One page of a list; callers loop on `continueToken` so memory stays bounded. */
export async function listPage(
  api: KubeApi,
  collection: { apiVersion: string; kind: string; namespace?: string },
  options: { limit: number; continueToken?: string; signal?: AbortSignal },
): Promise<ObjectPage> {
  const [group, version] = collection.apiVersion.split('/');
  const plural = pluralOf({ ...collection, namespace: 'x', name: 'x' });
  const scope = collection.namespace === undefined ? '' : `/namespaces/${encodeURIComponent(collection.namespace)}`;
  const query: Record<string, string> = { limit: String(options.limit) };
  if (options.continueToken !== undefined && options.continueToken !== '') query['continue'] = options.continueToken;
  const answer = await api.request({
    method: 'GET',
    path: `/apis/${group}/${version}${scope}/${plural}`,
    query,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let parsed: { items?: unknown; metadata?: { continue?: unknown; resourceVersion?: unknown } };
  try {
    parsed = JSON.parse(answer.text) as typeof parsed;
  } catch {
    throw transient(`Kubernetes API returned malformed JSON listing ${plural}`);
  }
  return {
    items: Array.isArray(parsed.items) ? parsed.items : [],
    continueToken: typeof parsed.metadata?.continue === 'string' ? parsed.metadata.continue : '',
    resourceVersion: typeof parsed.metadata?.resourceVersion === 'string' ? parsed.metadata.resourceVersion : '',
  };
}
