/** Which namespaces a sweep covers: the watched ones, else the function's own. */
import { readLocalFile } from '../local-file.js';
import { serviceAccountFile } from '../kube/service-account.js';

/** The namespace this process runs in: POD_NAMESPACE, else the service account's file; undefined outside a cluster. */
export async function ownNamespace(podNamespace: string, file = serviceAccountFile('namespace')): Promise<string | undefined> {
  if (podNamespace !== '') return podNamespace;
  try {
    const fromFile = readLocalFile(file).trim();
    return fromFile === '' ? undefined : fromFile;
  } catch {
    return undefined;
  }
}

/** THOTH_WATCHED_NAMESPACE when set; otherwise the own namespace, if known. */
export async function namespacesToSweep(watched: readonly string[], own: () => Promise<string | undefined>): Promise<readonly string[]> {
  if (watched.length > 0) return watched;
  const namespace = await own();
  return namespace === undefined ? [] : [namespace];
}
