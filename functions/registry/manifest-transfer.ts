/** Fetching, probing and pushing manifests by their exact bytes. */
import { discard } from './http-transport.js';
import { isDigest } from '../domain/image-reference.js';
import { digestOf, MANIFEST_ACCEPT, parseManifest } from './manifest.js';
import type { ParsedManifest } from './manifest.js';
import { RegistryError, unexpectedStatus } from './registry-error.js';
import type { RegistrySession } from './registry-session.js';

/** The OCI distribution spec lets registries refuse manifests over 4 MiB, and the common ones do: no bigger one can be pushed anyway. */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;

export interface FetchedManifest {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly parsed: ParsedManifest;
}

/** GETs a manifest by tag or digest and checks the bytes against the digest asked for. */
export function fetchManifest(session: RegistrySession, repository: string, reference: string): Promise<FetchedManifest> {
  const where = { registry: session.registry, repository };
  return session.retrying(async () => {
    const res = await session.request({
      method: 'GET', path: `/v2/${repository}/manifests/${reference}`, what: 'fetch manifest', repository,
      headers: { accept: MANIFEST_ACCEPT }, followRedirects: true, small: true,
    });
    if (res.statusCode !== 200) throw await unexpectedStatus(res, where, `fetch manifest ${reference}`);
    const announced = Number(res.headers['content-length'] ?? 0);
    if (announced > MANIFEST_LIMIT) {
      res.destroy();
      throw new RegistryError('refused', where, `manifest ${reference} announces ${announced} bytes, over the ${MANIFEST_LIMIT} a manifest may have`);
    }
    const bytes = await session.readBody(res, MANIFEST_LIMIT, `read manifest ${reference}`, repository);
    if (bytes === undefined) throw new RegistryError('refused', where, `manifest ${reference} exceeds the ${MANIFEST_LIMIT} bytes a manifest may have`);
    const header = res.headers['docker-content-digest'];
    const expected = isDigest(reference) ? reference : typeof header === 'string' && isDigest(header) ? header : undefined;
    const digest = digestOf(bytes, expected);
    if (expected !== undefined && digest !== expected) {
      throw new RegistryError('refused', where, `manifest ${reference} does not match its digest`);
    }
    const parsed = parseManifest(bytes, res.headers['content-type']);
    if (typeof parsed === 'string') throw new RegistryError('refused', where, `manifest ${reference}: ${parsed}`);
    return { bytes, digest, parsed };
  });
}

/** The digest the registry has under `reference`, or undefined when it has nothing there. */
export function headManifest(session: RegistrySession, repository: string, reference: string): Promise<string | undefined> {
  const where = { registry: session.registry, repository };
  return session.retrying(async () => {
    const res = await session.request({
      method: 'HEAD', path: `/v2/${repository}/manifests/${reference}`, what: 'check manifest', repository,
      headers: { accept: MANIFEST_ACCEPT }, followRedirects: true, small: true,
    });
    discard(res);
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw await unexpectedStatus(res, where, `check manifest ${reference}`);
    const digest = res.headers['docker-content-digest'];
    // Without the header we cannot tell what is there; treat it as absent and push.
    return typeof digest === 'string' && isDigest(digest) ? digest : undefined;
  });
}

/** PUTs the exact bytes under `reference` (a digest, or the tag last). */
export function pushManifest(session: RegistrySession, repository: string, reference: string, manifest: FetchedManifest): Promise<void> {
  const where = { registry: session.registry, repository };
  return session.retrying(async () => {
    const res = await session.request({
      method: 'PUT', path: `/v2/${repository}/manifests/${reference}`, what: 'push manifest', repository,
      headers: { 'content-type': manifest.parsed.mediaType, 'content-length': String(manifest.bytes.length) },
      body: manifest.bytes, small: true,
    });
    if (res.statusCode !== 201) throw await unexpectedStatus(res, where, `push manifest ${reference}`);
    discard(res);
    const stored = res.headers['docker-content-digest'];
    if (typeof stored === 'string' && stored !== manifest.digest && stored.startsWith(manifest.digest.slice(0, 7))) {
      throw new RegistryError('refused', where, `registry stored manifest ${reference} under another digest`);
    }
  });
}
