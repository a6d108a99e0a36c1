import { writeFile } from 'node:fs/promises';

/** Writes a single-context kubeconfig (JSON, which every YAML reader accepts), mode 0600. */
export async function writeKubeconfig(
  path: string,
  options: { server: string; caPem: string; token: string; user: string },
): Promise<void> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'build-watcher-test',
        cluster: { server: options.server, 'certificate-authority-data': Buffer.from(options.caPem).toString('base64') },
      },
    ],
    users: [{ name: options.user, user: { token: options.token } }],
    contexts: [{ name: options.user, context: { cluster: 'build-watcher-test', user: options.user } }],
    'current-context': options.user,
  };
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}
