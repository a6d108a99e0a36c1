/**
 * The one reader of where an ImageStream says its images are served. OpenShift writes both
 * fields, never users, which is why the credential rule may trust them (access/policy.ts).
 */
import { parseImageReference } from '../domain/image-reference.js';
import { isRecord, type KubeObject } from './object.js';

/** Each as `host[:port]/path`, the form `registry/repository` of a parsed reference takes. */
export interface StreamRepositories {
  /** `status.dockerImageRepository`: the stream's own repository on the integrated registry. */
  readonly own?: string;
  /** `status.publicDockerImageRepository`: the same repository through the registry's route. */
  readonly route?: string;
}

/** Absent, empty and unparseable fields are left out. */
function repository(status: Readonly<Record<string, unknown>>, field: string): string | undefined {
  const value = status[field];
  const parsed = typeof value === 'string' && value !== '' ? parseImageReference(value) : undefined;
  return parsed?.ok === true ? `${parsed.reference.registry}/${parsed.reference.repository}` : undefined;
}

export function streamRepositories(stream: KubeObject): StreamRepositories {
  const status = stream.raw['status'];
  if (!isRecord(status)) return {};
  const own = repository(status, 'dockerImageRepository');
  const route = repository(status, 'publicDockerImageRepository');
  return { ...(own !== undefined ? { own } : {}), ...(route !== undefined ? { route } : {}) };
}
