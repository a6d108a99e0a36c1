/**
 * "An image that was built": the one domain type every source kind (OpenShift Build, ImageStream tag,
 * Tekton run, Shipwright BuildRun) produces, and pushing, submitting, marking and Events consume unchanged.
 */

/** The Kubernetes object an image came from; marking and Events go back to it. */
export interface SourceObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** Empty when unknown (reference-mode events carry none until the object is re-read). */
  readonly uid: string;
}

/** Credentials for one registry. `password` may be a service-account token. */
export interface RegistryCredentials { readonly username: string; readonly password: string }

/** Where credentials come from. A token source is read at each use, because projected service-account tokens rotate. */
export type CredentialSource =
  | { readonly kind: 'none' }
  | { readonly kind: 'basic'; readonly credentials: RegistryCredentials }
  | { readonly kind: 'service-account-token'; readonly tokenPath: string };

/** A reference to an image, split so that pushing can rename it and keep the digest. */
export interface ImageReference {
  /** `host[:port]`, e.g. `image-registry.openshift-image-registry.svc:5000`. */
  readonly registry: string;
  /** Repository path without registry, e.g. `myproject/app`. */
  readonly repository: string;
  /** Tag, when one is known (kept for single-repository push naming and for humans). */
  readonly tag?: string;
  /** Absent only for the warned tag fallback. */
  readonly digest?: string;
}

/** An image known by its digest, as every source but the warned tag fallback reports it. */
export type PinnedImage = ImageReference & { readonly digest: string };

export interface BuiltImage {
  readonly source: SourceObjectRef;
  /** The image produced (absent for Failed/Error builds, which only send log and base). */
  readonly output?: ImageReference;
  readonly base?: ImageReference;
  /** A thunk, so that the log is fetched only when it is going to be sent. */
  readonly buildLog?: () => Promise<string | undefined>;
  /** The source commit it was built from, when the object says (CDEvents' artifact.packaged needs it). */
  readonly revision?: string;
  /** Phase or outcome, e.g. Complete, Failed, Succeeded, Present (an ImageStream tag). */
  readonly outcome: string;
  /** `build`: POST /build-analysis (output, base and log together), for builds and runs; `image`: POST /analyze, for ImageStreams. */

  readonly analysis: 'build' | 'image';
  /** How the output and base images are reached (functions/access/policy.ts decides). */
  readonly outputAccess: ImageAccess;
  readonly baseAccess: ImageAccess;
}

/** How an image is reached: with which credentials, verified how, and whether we may fetch it. */
export interface ImageAccess {
  readonly credentials: CredentialSource;
  readonly verifyTls: boolean;
  /** Whether the function itself may connect to its registry (to copy it to the push registry). */
  readonly fetchable: boolean;
  /** Why the image must be neither fetched nor submitted (access/policy.ts: another namespace's repository). */
  readonly refused?: string;
}
