/**
 * THOTH_PUSH_REGISTRY: copy the output image out of the cluster, then submit the copy. A failed copy submits nothing: the
 * original submitted references that did not exist.
 */
import { resolveCredentials } from '../access/token-file.js';
import type { BuiltImage, CredentialSource, ImageReference } from '../domain/built-image.js';
import type { ImageCopier } from './ports.js';

export interface PushPolicy {
  readonly copier: ImageCopier;
  /** Where a given image goes (the registry module's naming rules, configured). */
  readonly destinationFor: (image: BuiltImage, output: ImageReference) => ImageReference;
  readonly destinationCredentials: CredentialSource;
  readonly destinationVerifyTls: boolean;
}

/** Said in the Warning when an output is not copied: never its host, nor what a host answered. */
const NOT_FETCHED = 'registry not allowed: the output is not on the cluster registry, the push registry or a host in BUILD_WATCHER_PULL_REGISTRIES, so it was submitted where it is, not copied';

/**
 * The same BuiltImage, its output now the pushed copy, pinned by the digest the copy has; or, for an output on a registry the
 * function may not fetch from, the image unchanged and why.
 */
export async function pushBuiltImage(image: BuiltImage, policy: PushPolicy, signal?: AbortSignal): Promise<{ readonly image: BuiltImage; readonly notCopied?: string }> {
  const output = image.output;
  if (output === undefined) return { image };
  if (!image.outputAccess.fetchable) return { image, notCopied: NOT_FETCHED };
  const destination = policy.destinationFor(image, output);
  const { digest } = await policy.copier.copy({
    source: output, destination,
    // Decided by access/policy.ts: credentials only for the cluster's own registry.
    sourceCredentials: () => resolveCredentials(image.outputAccess.credentials),
    destinationCredentials: () => resolveCredentials(policy.destinationCredentials),
    sourceVerifyTls: image.outputAccess.verifyTls, destinationVerifyTls: policy.destinationVerifyTls, ...(signal ? { signal } : {}),
  });
  return {
    image: { ...image, output: { ...destination, digest }, outputAccess: { credentials: policy.destinationCredentials, verifyTls: policy.destinationVerifyTls, fetchable: true } },
  };
}
