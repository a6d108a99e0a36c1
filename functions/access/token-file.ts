/**
 * Credentials turned into values at the moment they are needed: the service-account token is read from its file at each use. Who
 * gets which credentials is policy.ts's decision.
 */
import { readFile } from 'node:fs/promises';
import type { CredentialSource, RegistryCredentials } from '../domain/built-image.js';
import { refused } from '../errors.js';
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
      const token = await readFile(source.tokenPath, 'utf8').then((text) => text.trim(), (error: NodeJS.ErrnoException) => {
        throw refused(`THOTH_PASS_TOKEN is set but the service-account token cannot be read (${error.code ?? 'error'})`);
      });
      if (token === '') throw refused('THOTH_PASS_TOKEN is set but the service-account token file is empty');
      registerRotatingSecret(token, TOKEN_USERNAME);
      return { username: TOKEN_USERNAME, password: token };
    }
  }
}
