/**
 * A MemoryCluster served over HTTP as the API server paths the function calls: lists (paged),
 * GET and PATCH (merge, or JSON patch with a `test`) of objects of the kinds in functions/domain/kinds.ts, POSTs of Events.
 * For tests that run the real function (test/function/run-function.ts) against a kubeconfig,
 * where the unit tests hand a MemoryCluster to the pipeline directly. Plain HTTP on port 0.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { KINDS, KIND_NAMES } from '../../functions/domain/kinds.js';
import { KubeApiError } from '../../functions/kube/api.js';
import type { ObjectCoordinates } from '../../functions/kube/object.js';
import type { PatchOptions } from '../../functions/kube/objects.js';
import type { MemoryCluster } from './in-memory-cluster.js';

/** `/apis/{group}/{version}[/namespaces/{namespace}]/{plural}[/{name}]`. */
const OBJECT_PATH = /^\/apis\/([^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/;
const EVENTS_PATH = /^\/api\/v1\/namespaces\/[^/]+\/events$/;

export interface MemoryApiServer {
  readonly url: string;
  /** Every request, as `METHOD /path`, in order. */
  readonly requests: readonly string[];
  /** Answer every PATCH with this status instead (a 500: the API server failing). */
  patchStatus: number | undefined;
  /** Answer every LIST with this status instead (a 503: the API server unreachable behind its load balancer). */
  listStatus: number | undefined;
  /** Lists wait until `releaseLists` is called. */
  holdLists(): void;
  releaseLists(): void;
  /** A kubeconfig (JSON, which is YAML) that points at this server. */
  kubeconfig(): string;
  close(): Promise<void>;
}

function status(res: ServerResponse, code: number, reason: string): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code }));
}

interface MergePatch {
  readonly metadata?: { readonly annotations?: Record<string, string | null>; readonly resourceVersion?: string };
}
type JsonPatch = readonly { readonly op: string; readonly path: string; readonly value?: string }[];

const ANNOTATION_POINTER = '/metadata/annotations/';
const annotationOf = (path: string) => path.slice(ANNOTATION_POINTER.length).replaceAll('~1', '/').replaceAll('~0', '~');

/** A merge patch, or a JSON patch of annotations led by one `test`, as the product sends them. */
async function patchOf(req: IncomingMessage): Promise<{ annotations: Record<string, string | null>; options: PatchOptions }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  if (!Array.isArray(body)) {
    const metadata = (body as MergePatch).metadata ?? {};
    return { annotations: metadata.annotations ?? {}, options: metadata.resourceVersion === undefined ? {} : { resourceVersion: metadata.resourceVersion } };
  }
  const annotations: Record<string, string | null> = {};
  let options: PatchOptions = {};
  for (const { op, path, value } of body as JsonPatch) {
    if (op === 'test') options = { expect: { annotation: annotationOf(path), value: value ?? '' } };
    else annotations[annotationOf(path)] = op === 'remove' ? null : (value ?? '');
  }
  return { annotations, options };
}

export async function serveMemoryCluster(cluster: MemoryCluster): Promise<MemoryApiServer> {
  const requests: string[] = [];
  let held: { promise: Promise<void>; release: () => void } | undefined;

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://api.invalid');
    requests.push(`${req.method ?? ''} ${url.pathname}`);
    if (req.method === 'POST' && EVENTS_PATH.test(url.pathname)) return void res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    const [, apiVersion = '', namespace, plural, name] = OBJECT_PATH.exec(url.pathname) ?? [];
    const kind = KIND_NAMES.find((candidate) => KINDS[candidate].plural === plural && (KINDS[candidate].apiVersions as readonly string[]).includes(apiVersion));
    if (kind === undefined) return status(res, 404, 'NotFound');
    if (name === undefined) {
      await held?.promise;
      if (server.listStatus !== undefined) return status(res, server.listStatus, 'ServiceUnavailable');
      const page = await cluster.page({ apiVersion, kind, ...(namespace !== undefined ? { namespace } : {}) }, {
        limit: Number(url.searchParams.get('limit') ?? '500'),
        ...(url.searchParams.has('continue') ? { continueToken: url.searchParams.get('continue') ?? '' } : {}),
      });
      const list = { apiVersion, kind: `${kind}List`, metadata: { resourceVersion: page.resourceVersion, continue: page.continueToken }, items: page.items };
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
    }
    const ref: ObjectCoordinates = { apiVersion, kind, namespace: namespace ?? '', name };
    if (req.method === 'PATCH') {
      if (server.patchStatus !== undefined) return status(res, server.patchStatus, 'InternalError');
      const { annotations, options } = await patchOf(req);
      const patched = await cluster.patchAnnotations(ref, annotations, options);
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(patched.raw));
    }
    const object = await cluster.read(ref);
    if (object === undefined) return status(res, 404, 'NotFound');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(object.raw));
  };

  const http = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => status(res, error instanceof KubeApiError ? error.httpStatus : 500, error instanceof Error ? error.name : 'InternalError'));
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const address = http.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const url = `http://127.0.0.1:${address.port}`;

  const server: MemoryApiServer = {
    url,
    requests,
    patchStatus: undefined,
    listStatus: undefined,
    holdLists() {
      let release = () => {};
      const promise = new Promise<void>((resolve) => (release = resolve));
      held = { promise, release };
    },
    releaseLists() {
      held?.release();
      held = undefined;
    },
    kubeconfig: () =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        // client-node refuses a plain-HTTP server unless told to skip TLS verification.
        clusters: [{ name: 'memory', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'tester', user: { token: 'not-checked' } }],
        contexts: [{ name: 'memory', context: { cluster: 'memory', user: 'tester' } }],
        'current-context': 'memory',
      }),
    async close() {
      server.releaseLists();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return server;
}
