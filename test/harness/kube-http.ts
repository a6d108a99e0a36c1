import { request } from 'node:https';

export interface KubeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface KubeRequest {
  method?: string;
  /** Path and query, e.g. `/api/v1/namespaces`. */
  path: string;
  body?: unknown;
  contentType?: string;
  /** Bearer token; defaults to the client's. */
  token?: string;
}

/**
 * The harness's own minimal HTTPS client for the API server. It sends bodies verbatim, so the
 * server (not a client-side serializer that drops unknown fields) judges every manifest.
 */
export class KubeHttp {
  constructor(
    readonly server: string,
    private readonly caPem: string,
    private readonly token: string,
  ) {}

  send(req: KubeRequest): Promise<KubeResponse> {
    const url = new URL(req.path, this.server);
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    return new Promise((resolve, reject) => {
      const outgoing = request(
        url,
        {
          method: req.method ?? 'GET',
          ca: this.caPem,
          headers: {
            accept: 'application/json',
            authorization: `Bearer ${req.token ?? this.token}`,
            ...(body === undefined ? {} : { 'content-type': req.contentType ?? 'application/json' }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  /** Sends and returns the parsed JSON body; throws on a non-2xx answer with the server's message. */
  async json(req: KubeRequest): Promise<unknown> {
    const res = await this.send(req);
    if (res.status < 200 || res.status >= 300) {
      throw new KubeRequestError(req.method ?? 'GET', new URL(req.path, this.server).pathname, res);
    }
    return JSON.parse(res.text) as unknown;
  }
}

export class KubeRequestError extends Error {
  readonly status: number;

  constructor(method: string, path: string, res: KubeResponse) {
    super(`${method} ${path}: ${res.status} ${statusMessage(res.text)}`);
    this.name = 'KubeRequestError';
    this.status = res.status;
  }
}

/** The `message` of a Kubernetes Status body; never the whole body. */
function statusMessage(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && 'message' in parsed && typeof parsed.message === 'string') {
      return parsed.message;
    }
  } catch {
    // Not JSON.
  }
  return '(no Status message)';
}
