/** Where the kubelet mounts a pod's service account: one place for its directory and files. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * `token`, `ca.crt` (the API server's CA), `namespace`, and on OpenShift `service-ca.crt` (the CA that signs in-cluster services,
 * the internal registry's included).
 */
export type ServiceAccountFile = 'token' | 'ca.crt' | 'namespace' | 'service-ca.crt';

export function serviceAccountFile(name: ServiceAccountFile, directory: string = SERVICE_ACCOUNT_DIR): string {
  return `${directory}/${name}`;
}
