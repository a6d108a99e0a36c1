/**
 * Which credentials an image gets, and turning them into credentials at the moment they are
 * needed. Credentials belong to the cluster's own registry: images anywhere else get none.
 */
import { readFile } from 'node:fs/promises';
import type { CredentialSource, RegistryCredentials } from '../domain/built-image.js';
import { refused } from '../errors.js';
import { registerRotatingSecret } from '../observability/redact.js';

/** How images on the cluster's own registry are pulled. */
export interface CredentialPolicy {
  /** THOTH_PASS_TOKEN: the service-account token, read at each use. */
  readonly passToken: boolean;
  readonly tokenFile: string;
  /** THOTH_SRC_REGISTRY_*: only allowed with THOTH_PUSH_REGISTRY, for copying out. */
  readonly sourceCredentials?: RegistryCredentials;
  readonly sourceRegistryVerifyTls: boolean;
}

/** Whether any credential is configured at all, i.e. whether finding the cluster registry matters. */
export function hasClusterCredentials(policy: CredentialPolicy): boolean {
  return policy.passToken || policy.sourceCredentials !== undefined;
}

/** The credentials for an image on the cluster's registry; `none` for every other image. */
export function clusterRegistryCredentials(policy: CredentialPolicy, onClusterRegistry: boolean): CredentialSource {
  if (!onClusterRegistry) return { kind: 'none' };
  if (policy.passToken) return { kind: 'service-account-token', tokenPath: policy.tokenFile };
  if (policy.sourceCredentials !== undefined) return { kind: 'basic', credentials: policy.sourceCredentials };
  return { kind: 'none' };
}

/** OpenShift's registry accepts any user name with a service-account token as password. */
export const TOKEN_USERNAME = 'build-watcher';

export async function resolveCredentials(source: CredentialSource): Promise<RegistryCredentials | undefined> {
  switch (source.kind) {
    case 'none':
      return undefined;
    case 'basic':
      return source.credentials;
    case 'service-account-token': {
      // Read at each use: projected service-account tokens rotate under our feet.
      let token: string;
      try {
        token = (await readFile(source.tokenPath, 'utf8')).trim();
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        throw refused(`THOTH_PASS_TOKEN is set but the service-account token cannot be read (${code})`);
      }
      if (token === '') throw refused('THOTH_PASS_TOKEN is set but the service-account token file is empty');
      registerRotatingSecret(token, TOKEN_USERNAME);
      return { username: TOKEN_USERNAME, password: token };
    }
  }
}
