/**
 * The pipeline's ports to Thoth and to the registry copier (Kubernetes' are in kube/store.ts), so it can run against the real
 * ones or anything a test supplies. functions/wiring.ts supplies the real ones.
 */
import type { ImageReference, RegistryCredentials } from '../domain/built-image.js';
import type { BuildAnalysisRequest, ImageAnalysisRequest } from '../thoth/requests.js';
import type { AnalysisTicket, BuildAnalysisResult } from '../thoth/responses.js';

/** What the pipeline needs from Thoth: thoth/client.ts's ThothClient, or a test's own. */
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
