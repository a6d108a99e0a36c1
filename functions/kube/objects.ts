/** Reading, annotating and listing the watched objects through the API server. */
import { transient } from '../errors.js';
import { isKubeStatus, type KubeApi } from './api.js';
import { apiPath, objectLabel, parseKubeObject, parseListItem, type KubeObject, type ObjectCoordinates } from './object.js';

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
    const answer = await api.request({ method: 'GET', path: apiPath(ref), ...(signal ? { signal } : {}) });
    return parseAnswer(answer.text, objectLabel(ref));
  } catch (error) {
    if (isKubeStatus(error, 404)) return undefined;
    throw error;
  }
}

export interface PatchOptions {
  /** 409 unless the object is still at this version. */
  readonly resourceVersion?: string;
  /** 422 unless this annotation has exactly this value (a JSON-patch `test`): a write under a claim fails once it is someone else's. */
  readonly expect?: { readonly annotation: string; readonly value: string };
  readonly signal?: AbortSignal;
}

/** An annotation's JSON pointer (RFC 6901: `~` and `/` escaped). */
const annotationPointer = (key: string) => `/metadata/annotations/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;

/**
 * Patches annotations only (null removes one): a merge patch with `resourceVersion` as its precondition; with
 * `expect`, a JSON patch led by a `test` (a removal of an absent key then fails too: callers leave those out).
 */
export async function patchAnnotations(api: KubeApi, object: ObjectCoordinates, annotations: Readonly<Record<string, string | null>>,
  options: PatchOptions = {}): Promise<KubeObject> {
  const { expect } = options;
  let body: unknown;
  if (expect !== undefined) {
    body = [
      { op: 'test', path: annotationPointer(expect.annotation), value: expect.value },
      ...Object.entries(annotations).map(([key, value]) => (value === null ? { op: 'remove', path: annotationPointer(key) } : { op: 'add', path: annotationPointer(key), value })),
    ];
  } else {
    const metadata: Record<string, unknown> = { annotations };
    if (options.resourceVersion !== undefined) metadata['resourceVersion'] = options.resourceVersion;
    body = { metadata };
  }
  const answer = await api.request({ method: 'PATCH', path: apiPath(object), body,
    contentType: expect !== undefined ? 'application/json-patch+json' : 'application/merge-patch+json', ...(options.signal ? { signal: options.signal } : {}) });
  return parseAnswer(answer.text, objectLabel(object));
}

/** Thoth takes at most 3 MiB per request, so a longer log is cut from the front there anyway; the tail is where the errors are. */
export const BUILD_LOG_TAIL_BYTES = 3 * 1024 * 1024;
/** Lines asked for first: 3 MiB of 96-byte lines. */
export const BUILD_LOG_FIRST_LINES = 32 * 1024;

/**
 * `GET …/builds/{name}/log` (text/plain): at most its last 3 MiB, however long the log. The API server is asked for the last
 * lines and at most 3 MiB of them (BuildLogOptions `tailLines`, `limitBytes`), so neither it nor we move the rest: a 2 GiB log
 * costs what a 3 MiB one does. `limitBytes` keeps the first bytes of those lines, so an answer that reaches it lacks the log's
 * end: then as many lines as fitted in it are asked for, the next times at most a quarter as many, down to one line: at most
 * 9 requests of at most 3 MiB each.
 */
export async function readBuildLog(api: KubeApi, build: ObjectCoordinates, signal?: AbortSignal): Promise<string> {
  let lines = BUILD_LOG_FIRST_LINES;
  for (let request = 1; ; request++) {
    const answer = await api.request({ method: 'GET', path: apiPath(build, 'log'), accept: 'text/plain, */*',
      query: { tailLines: String(lines), limitBytes: String(BUILD_LOG_TAIL_BYTES) }, readAtMost: BUILD_LOG_TAIL_BYTES, ...(signal ? { signal } : {}) });
    if ((answer.bytesRead ?? 0) < BUILD_LOG_TAIL_BYTES || lines === 1) return answer.text;
    let fitted = 0;
    for (let at = answer.text.indexOf('\n'); at >= 0; at = answer.text.indexOf('\n', at + 1)) fitted += 1;
    // Uniform lines fit at the second request; lines that grow towards the end need the quartering.
    lines = Math.max(1, Math.min(fitted, request === 1 ? lines - 1 : Math.floor(lines / 4)));
  }
}

export interface Collection {
  readonly apiVersion: string;
  readonly kind: string;
  /** Undefined: every namespace the caller may list. */
  readonly namespace?: string;
}

export interface ObjectPage { readonly items: readonly unknown[]; readonly continueToken: string; readonly resourceVersion: string }

/** Pages of a collection; the sweep and the command line read lists through it only. */
export interface PageLister {
  page(collection: Collection, options: { limit: number; continueToken?: string; signal?: AbortSignal }): Promise<ObjectPage>;
}

/** One page of a list; callers loop on `continueToken` so memory stays bounded. */
export async function listPage(api: KubeApi, collection: Collection,
  options: { limit: number; continueToken?: string; signal?: AbortSignal }): Promise<ObjectPage> {
  const query: Record<string, string> = { limit: String(options.limit) };
  if (options.continueToken !== undefined && options.continueToken !== '') query['continue'] = options.continueToken;
  const answer = await api.request({ method: 'GET', path: apiPath(collection), query, ...(options.signal ? { signal: options.signal } : {}) });
  let parsed: { items?: unknown; metadata?: { continue?: unknown; resourceVersion?: unknown } };
  try {
    parsed = JSON.parse(answer.text) as typeof parsed;
  } catch {
    throw transient(`Kubernetes API returned malformed JSON listing ${collection.kind}`);
  }
  return {
    items: Array.isArray(parsed.items) ? parsed.items : [],
    continueToken: typeof parsed.metadata?.continue === 'string' ? parsed.metadata.continue : '',
    resourceVersion: typeof parsed.metadata?.resourceVersion === 'string' ? parsed.metadata.resourceVersion : '',
  };
}

/**
 * The one page loop: every readable object of a collection, page by page, until `visit` answers false. Answers
 * the list's resourceVersion, for a watch to start from. Unreadable items go to `onUnreadable` and are skipped.
 */
export async function listObjects(lister: PageLister, collection: Collection,
  options: { pageSize: number; signal?: AbortSignal; onUnreadable?: (error: unknown) => void },
  visit: (object: KubeObject) => boolean | Promise<boolean>): Promise<{ readonly resourceVersion: string; readonly stopped: boolean }> {
  let continueToken: string | undefined;
  let resourceVersion = '';
  do {
    const page = await lister.page(collection, { limit: options.pageSize, ...(continueToken !== undefined ? { continueToken } : {}),
      ...(options.signal ? { signal: options.signal } : {}) });

    for (const item of page.items) {
      let object: KubeObject;
      try {
        object = parseListItem(item, collection);
      } catch (error) {
        options.onUnreadable?.(error);
        continue;
      }
      if (!(await visit(object))) return { resourceVersion: page.resourceVersion, stopped: true };
    }
    resourceVersion = page.resourceVersion;
    continueToken = page.continueToken === '' ? undefined : page.continueToken;
  } while (continueToken !== undefined && options.signal?.aborted !== true);
  return { resourceVersion, stopped: false };
}
