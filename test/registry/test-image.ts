/**
 * Pushes generated images straight over the Distribution API, independently of the product's
 * copier, so tests can set up a source registry without trusting the code under test.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

export interface RegistryEndpoint {
  readonly url: string;
  readonly caPath?: string;
  readonly credentials?: { readonly username: string; readonly password: string };
}

export interface PushTestImageOptions {
  readonly repository: string;
  /** Default 'latest'. */
  readonly tag?: string;
  /** Sizes in bytes of random layers; each platform gets its own. */
  readonly layerSizes: readonly number[];
  /** Sizes of random layers shared by every platform (pushed once). */
  readonly sharedLayerSizes?: readonly number[];
  /** e.g. ['linux/amd64', 'linux/arm64/v8']: push an index of one manifest per platform. */
  readonly platforms?: readonly string[];
  /** Default 'oci'. */
  readonly format?: 'oci' | 'docker';
}

export interface PushedImage {
  readonly repository: string;
  readonly tag: string;
  /** Digest of the tagged manifest or index. */
  readonly digest: string;
  readonly mediaType: string;
  /** Every distinct blob (layers and configs). */
  readonly blobDigests: readonly string[];
  /** Digests of the per-platform manifests of an index; empty for a single manifest. */
  readonly childManifestDigests: readonly string[];
  /** Sum of the sizes of the distinct blobs. */
  readonly blobBytes: number;
}

interface Response { status: number; headers: IncomingHttpHeaders; body: Buffer }

const MEDIA = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    index: 'application/vnd.oci.image.index.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
} as const;

export const ALL_MANIFEST_TYPES = [...Object.values(MEDIA).flatMap((m) => [m.manifest, m.index])].join(', ');

const sha256 = (data: Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** `size` pseudo-random bytes, generated on the fly (AES-CTR over zeros is fast). */
export function randomStream(size: number): Readable {
  const cipher = createCipheriv('aes-256-ctr', randomBytes(32), randomBytes(16));
  const chunk = Buffer.alloc(1 << 20);
  let left = size;
  return new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(cipher.update(n === chunk.length ? chunk : chunk.subarray(0, n)));
    },
  });
}

/** A minimal authenticated Distribution client for test setup and verification. */
export class TestRegistryClient {
  readonly #base: URL;
  readonly #ca: Buffer | undefined;
  readonly #credentials: RegistryEndpoint['credentials'];
  readonly #authByRepository = new Map<string, string>();

  constructor(endpoint: RegistryEndpoint) {
    this.#base = new URL(endpoint.url);
    this.#ca = endpoint.caPath === undefined ? undefined : readFileSync(endpoint.caPath);
    this.#credentials = endpoint.credentials;
  }

  #send(method: string, url: URL, headers: Record<string, string>, body?: Buffer | Readable): Promise<Response> {
    return new Promise((resolve, reject) => {
      const options = { method, headers, ...(this.#ca === undefined ? {} : { ca: this.#ca }) };
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, options, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (body instanceof Readable) {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      } else {
        req.end(body);
      }
    });
  }

  async #authorize(repository: string, challenge: string): Promise<string> {
    const creds = this.#credentials;
    if (creds === undefined) throw new Error('test registry asked for credentials, none given');
    const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    if (/^basic/i.test(challenge)) return basic;
    const param = (name: string): string | undefined => new RegExp(`${name}="([^"]*)"`).exec(challenge)?.[1];
    const realm = param('realm');
    if (realm === undefined) throw new Error(`unparsable challenge: ${challenge}`);
    const tokenUrl = new URL(realm);
    tokenUrl.searchParams.set('service', param('service') ?? '');
    tokenUrl.searchParams.set('scope', `repository:${repository}:pull,push,delete`);
    const res = await this.#send('GET', tokenUrl, { authorization: basic });
    if (res.status !== 200) throw new Error(`token realm answered ${res.status}`);
    const parsed = JSON.parse(res.body.toString()) as { token?: string; access_token?: string };
    return `Bearer ${parsed.token ?? parsed.access_token ?? ''}`;
  }

  /** One request; a 401 is answered once with credentials, so stream bodies only after auth. */
  async request(method: string, repository: string, pathOrUrl: string, headers: Record<string, string> = {},
    body?: Buffer | Readable): Promise<Response> {
    const url = new URL(pathOrUrl, this.#base);
    const auth = this.#authByRepository.get(repository);
    const res = await this.#send(method, url, auth === undefined ? headers : { ...headers, authorization: auth }, body);
    if (res.status !== 401 || body instanceof Readable) return res;
    const challenge = res.headers['www-authenticate'];
    if (challenge === undefined) return res;
    this.#authByRepository.set(repository, await this.#authorize(repository, challenge));
    return this.#send(method, url, { ...headers, authorization: this.#authByRepository.get(repository) ?? '' }, body);
  }

  async #startUpload(repository: string): Promise<URL> {
    const res = await this.request('POST', repository, `/v2/${repository}/blobs/uploads/`, { 'content-length': '0' });
    const location = res.headers.location;
    if (res.status !== 202 || location === undefined) throw new Error(`start upload to ${repository}: ${res.status}`);
    return new URL(location, this.#base);
  }

  async pushBlob(repository: string, data: Buffer): Promise<{ digest: string; size: number }> {
    const digest = sha256(data);
    const location = await this.#startUpload(repository);
    location.searchParams.set('digest', digest);
    const res = await this.request('PUT', repository, location.href,
      { 'content-type': 'application/octet-stream', 'content-length': String(data.length) }, data);
    if (res.status !== 201) throw new Error(`push blob to ${repository}: ${res.status} ${res.body.toString().slice(0, 200)}`);
    return { digest, size: data.length };
  }

  /** Streams `size` random bytes in one PATCH, hashing as it goes, then commits with PUT. */
  async pushRandomBlob(repository: string, size: number): Promise<{ digest: string; size: number }> {
    const location = await this.#startUpload(repository);
    const hash = createHash('sha256');
    const source = randomStream(size);
    source.on('data', (c: Buffer) => hash.update(c));
    const patched = await this.request('PATCH', repository, location.href, { 'content-type': 'application/octet-stream' }, source);
    const next = patched.headers.location;
    if (patched.status !== 202 || next === undefined) throw new Error(`patch blob to ${repository}: ${patched.status}`);
    const commit = new URL(next, this.#base);
    const digest = `sha256:${hash.digest('hex')}`;
    commit.searchParams.set('digest', digest);
    const res = await this.request('PUT', repository, commit.href, { 'content-length': '0' });
    if (res.status !== 201) throw new Error(`commit blob to ${repository}: ${res.status}`);
    return { digest, size };
  }

  async pushManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    const res = await this.request('PUT', repository, `/v2/${repository}/manifests/${reference}`,
      { 'content-type': mediaType, 'content-length': String(bytes.length) }, bytes);
    if (res.status !== 201) throw new Error(`push manifest ${repository}:${reference}: ${res.status} ${res.body.toString().slice(0, 300)}`);
    return sha256(bytes);
  }

  /** The manifest's raw bytes, media type and the digest of the bytes, or undefined on 404. */
  async getManifest(repository: string, reference: string): Promise<{ bytes: Buffer; mediaType: string; digest: string } | undefined> {
    const res = await this.request('GET', repository, `/v2/${repository}/manifests/${reference}`, { accept: ALL_MANIFEST_TYPES });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`get manifest ${repository}:${reference}: ${res.status}`);
    return { bytes: res.body, mediaType: res.headers['content-type'] ?? '', digest: sha256(res.body) };
  }

  async blobExists(repository: string, digest: string): Promise<boolean> {
    const res = await this.request('HEAD', repository, `/v2/${repository}/blobs/${digest}`);
    return res.status === 200;
  }

  /** Downloads a blob and returns the digest of what came back (buffered: small blobs only). */
  async fetchBlobDigest(repository: string, digest: string): Promise<string> {
    const res = await this.request('GET', repository, `/v2/${repository}/blobs/${digest}`);
    if (res.status !== 200) throw new Error(`get blob ${repository}@${digest}: ${res.status}`);
    return sha256(res.body);
  }
}

function parsePlatform(platform: string): { os: string; architecture: string; variant?: string } {
  const [os = 'linux', architecture = 'amd64', variant] = platform.split('/');
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** Pushes random layers, a config, a manifest (and an index when platforms are given), tag last. */
export async function pushTestImage(registry: RegistryEndpoint, options: PushTestImageOptions): Promise<PushedImage> {
  const client = new TestRegistryClient(registry);
  const media = MEDIA[options.format ?? 'oci'];
  const tag = options.tag ?? 'latest';
  const repository = options.repository;
  const blobs = new Map<string, number>();
  const pushLayers = async (sizes: readonly number[]): Promise<{ digest: string; size: number }[]> => {
    const layers = await Promise.all(sizes.map((size) => client.pushRandomBlob(repository, size)));
    for (const l of layers) blobs.set(l.digest, l.size);
    return layers;
  };
  const shared = await pushLayers(options.sharedLayerSizes ?? []);
  // Three-space indentation: a copier that re-serialises manifests would change the digest.
  const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value, null, 3));

  const pushPlatformManifest = async (platform: string, reference: string): Promise<{ digest: string; size: number }> => {
    const layers = [...shared, ...(await pushLayers(options.layerSizes))];
    const { os, architecture, variant } = parsePlatform(platform);
    const config = encode({
      architecture, os, ...(variant === undefined ? {} : { variant }),
      config: { Labels: { 'build-watcher.test/nonce': randomBytes(8).toString('hex') } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    });
    const configBlob = await client.pushBlob(repository, config);
    blobs.set(configBlob.digest, configBlob.size);
    const manifest = encode({
      schemaVersion: 2, mediaType: media.manifest,
      config: { mediaType: media.config, digest: configBlob.digest, size: configBlob.size },
      layers: layers.map((l) => ({ mediaType: media.layer, digest: l.digest, size: l.size })),
    });
    const digest = await client.pushManifest(repository, reference === '' ? sha256(manifest) : reference, manifest, media.manifest);
    return { digest, size: manifest.length };
  };

  let digest: string;
  let mediaType: string;
  const children: string[] = [];
  if (options.platforms === undefined || options.platforms.length === 0) {
    digest = (await pushPlatformManifest('linux/amd64', tag)).digest;
    mediaType = media.manifest;
  } else {
    const entries = [];
    for (const platform of options.platforms) {
      const child = await pushPlatformManifest(platform, '');
      children.push(child.digest);
      entries.push({ mediaType: media.manifest, digest: child.digest, size: child.size, platform: parsePlatform(platform) });
    }
    const index = encode({ schemaVersion: 2, mediaType: media.index, manifests: entries });
    digest = await client.pushManifest(repository, tag, index, media.index);
    mediaType = media.index;
  }
  return {
    repository, tag, digest, mediaType,
    blobDigests: [...blobs.keys()],
    childManifestDigests: children,
    blobBytes: [...blobs.values()].reduce((a, b) => a + b, 0),
  };
}
