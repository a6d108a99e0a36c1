/**
 * THOTH_PUSH_REGISTRY: copy the output image out of the cluster, then submit the copy.
 * A failed copy submits nothing: the original submitted references that did not exist.
 */
import type { BuiltImage, CredentialSource, ImageReference } from '../domain/built-image.js';
import { resolveCredentials } from './credentials.js';
import type { ImageCopier } from './ports.js';

export interface PushPolicy {
  readonly copier: ImageCopier;
  /** Where a given image goes (the registry module's naming rules, configured). */
  readonly destinationFor: (image: BuiltImage, output: ImageReference) => ImageReference;
  readonly destinationCredentials: CredentialSource;
  readonly destinationVerifyTls: boolean;
}

/** The same BuiltImage, its output now the pushed copy, pinned by the digest the copy has. */
export async function pushBuiltImage(image: BuiltImage, policy: PushPolicy, signal?: AbortSignal): Promise<BuiltImage> {
  const output = image.output;
  if (output === undefined) return image;
  const destination = policy.destinationFor(image, output);
  const { digest } = await policy.copier.copy({
    source: output,
    destination,
    // The source decided these: credentials only for the cluster's own registry, so an output
    // that names some other registry never receives the token or THOTH_SRC_REGISTRY_*.
    sourceCredentials: () => resolveCredentials(image.outputCredentials),
    destinationCredentials: () => resolveCredentials(policy.destinationCredentials),
    sourceVerifyTls: image.outputVerifyTls,
    destinationVerifyTls: policy.destinationVerifyTls,
    ...(signal ? { signal } : {}),
  });
  return {
    ...image,
    output: { ...destination, digest },
    outputCredentials: policy.destinationCredentials,
    outputVerifyTls: policy.destinationVerifyTls,
  };
}
