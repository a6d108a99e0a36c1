/**
 * Credentials turned into values at the moment they are needed: the service-account token is read from its file at each use. Who
 * gets which credentials is policy.ts's decision.
 */
import type { CredentialSource, RegistryCredentials } from '../domain/built-image.js';
import { refused } from '../errors.js';
import { readLocalFile, unreadableBecause } from '../local-file.js';
import { registerRotatingSecret } from '../observability/redact.js';

/** OpenShift's registry accepts any user name with a service-account token as password. */
const TOKEN_USERNAME = 'build-watcher';

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
        token = readLocalFile(source.tokenPath).trim();
      } catch (error) {
        throw refused(`THOTH_PASS_TOKEN is set but the service-account token cannot be read (${unreadableBecause(error)})`);
      }
      if (token === '') throw refused('THOTH_PASS_TOKEN is set but the service-account token file is empty');
      registerRotatingSecret(token, TOKEN_USERNAME);
      return { username: TOKEN_USERNAME, password: token };
    }
  }
}
