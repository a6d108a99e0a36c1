/**
 * What the function asks of Thoth, on the wire. The User API answers an unknown query parameter 400, so only parameters that are
 * set and that the endpoint declares are sent.
 */
import type { RegistryCredentials } from '../domain/built-image.js';

/** Where the image is used, as Thoth's analyses distinguish it (THOTH_ENVIRONMENT_TYPE). */
export const ENVIRONMENT_TYPES = ['runtime', 'buildtime'] as const;
export type EnvironmentType = (typeof ENVIRONMENT_TYPES)[number];

/** One image for Thoth to pull; credentials are already resolved (token files read). */
export interface ImageSubmission {
  /** A full reference, e.g. `registry:5000/ns/app@sha256:…`. */
  readonly image: string;
  readonly credentials?: RegistryCredentials;
  /** Absent = Thoth's default (verify). */
  readonly verifyTls?: boolean;
}

export interface AnalysisOptions {
  readonly environmentType?: EnvironmentType;
  /** Free text: where the image is used, e.g. the namespace or cluster. */
  readonly origin?: string;
  readonly debug?: boolean;
  readonly force?: boolean;
}

export interface BuildLogSubmission {
  readonly log: string;
  /** The historic bot sent the Build's API path here. */
  readonly apiVersion?: string;
  /** Thoth's schema types `metadata` as a string, not an object. */
  readonly metadata?: string;
}

export interface BuildAnalysisRequest extends AnalysisOptions {
  readonly base?: ImageSubmission;
  readonly output?: ImageSubmission;
  readonly buildLog?: BuildLogSubmission;
}

export interface ImageAnalysisRequest extends AnalysisOptions, ImageSubmission {}

/** The JSON body of POST /build-analysis; absent keys are left out, never null. */
export interface BuildAnalysisBody {
  readonly base_image?: string;
  readonly output_image?: string;
  readonly build_log?: { readonly log: string; readonly apiversion?: string; readonly kind: 'BuildLog'; readonly metadata?: string };
}

function setOptions(params: URLSearchParams, options: AnalysisOptions): void {
  if (options.environmentType !== undefined) params.set('environment_type', options.environmentType);
  if (options.origin !== undefined && options.origin !== '') params.set('origin', options.origin);
  if (options.debug !== undefined) params.set('debug', String(options.debug));
  if (options.force !== undefined) params.set('force', String(options.force));
}

function setImage(params: URLSearchParams, prefix: string, tlsName: string, image: ImageSubmission): void {
  const credentials = image.credentials;
  if (credentials !== undefined && (credentials.username !== '' || credentials.password !== '')) {
    params.set(`${prefix}user`, credentials.username);
    params.set(`${prefix}password`, credentials.password);
  }
  if (image.verifyTls !== undefined) params.set(tlsName, String(image.verifyTls));
}

export function buildAnalysisQuery(request: BuildAnalysisRequest): URLSearchParams {
  const params = new URLSearchParams();
  if (request.base !== undefined) setImage(params, 'base_registry_', 'base_registry_verify_tls', request.base);
  if (request.output !== undefined) setImage(params, 'output_registry_', 'output_registry_verify_tls', request.output);
  setOptions(params, request);
  return params;
}

export function imageAnalysisQuery(request: ImageAnalysisRequest): URLSearchParams {
  const params = new URLSearchParams({ image: request.image });
  setImage(params, 'registry_', 'verify_tls', request);
  setOptions(params, request);
  return params;
}

export function buildAnalysisBody(request: BuildAnalysisRequest): BuildAnalysisBody {
  const log = request.buildLog;
  const buildLog = log === undefined ? undefined : {
    log: log.log, ...(log.apiVersion !== undefined ? { apiversion: log.apiVersion } : {}), kind: 'BuildLog' as const,
    ...(log.metadata !== undefined ? { metadata: log.metadata } : {}),
  };
  return {
    ...(request.base !== undefined ? { base_image: request.base.image } : {}),
    ...(request.output !== undefined ? { output_image: request.output.image } : {}), ...(buildLog !== undefined ? { build_log: buildLog } : {}),
  };
}

/** Every credential value a request carries, for scrubbing anything Thoth echoes back. */
export function secretsOf(images: ReadonlyArray<ImageSubmission | undefined>): string[] {
  const secrets: string[] = [];
  for (const image of images) {
    const credentials = image?.credentials;
    if (credentials === undefined || credentials.password === '') continue;
    secrets.push(credentials.password);
    secrets.push(Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64'));
  }
  return secrets;
}
