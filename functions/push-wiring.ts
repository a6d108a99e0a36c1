/**
 * THOTH_PUSH_REGISTRY, wired: the registry copier behind the pipeline's ImageCopier port, with
 * the configured credentials, TLS and naming. The copier is imported on the first copy, so it
 * costs nothing at start-up or when no push registry is set.
 */
import { existsSync } from 'node:fs';
import type { Config } from './config.js';
import type { CredentialSource } from './domain/built-image.js';
import { imageCopies } from './observability/metrics.js';
import type { ImageCopier } from './pipeline/ports.js';
import type { PushPolicy } from './pipeline/push.js';
import { pushDestination } from './registry/naming.js';

/** Mounted into every OpenShift pod: the CA of the internal registry's serving certificate. */
export const SERVICE_CA_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/service-ca.crt';

function registryCopier(config: Config, serviceCaPath: string): ImageCopier {
  const caPath = config.caBundleFile !== '' ? config.caBundleFile : existsSync(serviceCaPath) ? serviceCaPath : undefined;
  const tls = (registry: string, verify: boolean) => ({
    verify,
    ...(caPath !== undefined ? { caPath } : {}),
    allowPlainHttp: config.plainHttpRegistries.includes(registry),
  });
  return {
    async copy(request) {
      const { copyImage } = await import('./registry/copy-image.js');
      try {
        const result = await copyImage({
          source: request.source,
          destination: request.destination,
          sourceAuth: request.sourceCredentials,
          destinationAuth: request.destinationCredentials,
          sourceTls: tls(request.source.registry, request.sourceVerifyTls),
          destinationTls: tls(request.destination.registry, request.destinationVerifyTls),
          ...(request.signal !== undefined ? { signal: request.signal } : {}),
        });
        imageCopies.inc({ result: 'copied' });
        return { digest: result.digest };
      } catch (error) {
        imageCopies.inc({ result: 'failed' });
        throw error;
      }
    },
  };
}

/** The push policy for this configuration, or undefined when images are submitted in place. */
export function pushPolicyFor(config: Config, serviceCaPath = SERVICE_CA_PATH): PushPolicy | undefined {
  if (config.pushRegistry === '') return undefined;
  const destinationCredentials: CredentialSource =
    config.destinationCredentials !== undefined ? { kind: 'basic', credentials: config.destinationCredentials } : { kind: 'none' };
  return {
    copier: registryCopier(config, serviceCaPath),
    destinationFor: (image, output) =>
      pushDestination(output, { pushRegistry: config.pushRegistry, naming: config.pushNaming, namespace: image.source.namespace }),
    destinationCredentials,
    destinationVerifyTls: config.destinationRegistryVerifyTls,
  };
}
