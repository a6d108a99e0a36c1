/**
 * The small interfaces the pipeline depends on (one per outside party), so it can run
 * against the real API server, registry and Thoth, or anything a test supplies.
 * `functions/index.ts` and the command line supply the real ones.
 */
import type { ImageReference, RegistryCredentials } from '../domain/built-image.js';
import type { KubeObject, ObjectCoordinates } from '../events/intake.js';
import type { EventReason } from '../kube/events.js';
import type { BuildAnalysisRequest, ImageAnalysisRequest } from '../thoth/requests.js';
import type { AnalysisTicket, BuildAnalysisResult } from '../thoth/responses.js';

export interface ObjectStore {
  /** The object as the API server has it now; undefined when it is gone. */
  read(ref: ObjectCoordinates, signal?: AbortSignal): Promise<KubeObject | undefined>;
  /** Merge-patch annotations (null removes); with resourceVersion, 409 when it changed. */
  patchAnnotations(
    object: ObjectCoordinates,
    annotations: Readonly<Record<string, string | null>>,
    options?: { resourceVersion?: string; signal?: AbortSignal },
  ): Promise<KubeObject>;
  readBuildLog(build: ObjectCoordinates, signal?: AbortSignal): Promise<string>;
}

export interface EventRecorder {
  record(object: ObjectCoordinates & { readonly uid: string }, event: EventReason): Promise<void>;
}

export interface Submitter {
  submitBuildAnalysis(request: BuildAnalysisRequest, signal?: AbortSignal): Promise<BuildAnalysisResult>;
  submitImageAnalysis(request: ImageAnalysisRequest, signal?: AbortSignal): Promise<AnalysisTicket>;
}

export interface CopyRequest {
  readonly source: ImageReference;
  readonly destination: ImageReference;
  readonly sourceCredentials: () => Promise<RegistryCredentials | undefined>;
  readonly destinationCredentials: () => Promise<RegistryCredentials | undefined>;
  readonly sourceVerifyTls: boolean;
  readonly destinationVerifyTls: boolean;
  readonly signal?: AbortSignal;
}

export interface ImageCopier {
  /** Copies the image (an index whole) and answers the digest it has at the destination. */
  copy(request: CopyRequest): Promise<{ readonly digest: string }>;
}
