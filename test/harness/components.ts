import { execFile } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const controlPlaneDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'controlplane');

/** Versions pinned by test/controlplane/versions.env (written by generate.sh). */
export interface ComponentVersions {
  kubernetes: string;
  etcd: string;
  eventing: string;
  tekton: string;
  shipwright: string;
}

export interface Binaries {
  kubeApiserver: string;
  etcd: string;
  receiveAdapter: string;
}

export async function readVersions(): Promise<ComponentVersions> {
  const text = await readFile(join(controlPlaneDir, 'versions.env'), 'utf8');
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) values.set(match[1], match[2]);
  }
  const get = (key: string): string => {
    const value = values.get(key);
    if (!value) throw new Error(`${key} missing from test/controlplane/versions.env`);
    return value;
  };
  return {
    kubernetes: get('K8S_VERSION'),
    etcd: get('ETCD_VERSION'),
    eventing: get('EVENTING_VERSION'),
    tekton: get('TEKTON_VERSION'),
    shipwright: get('SHIPWRIGHT_VERSION'),
  };
}

/** Same cache layout as test/controlplane/build.sh. */
export async function locateBinaries(versions: ComponentVersions): Promise<Binaries> {
  const cacheRoot =
    process.env['BUILD_WATCHER_CACHE'] ??
    join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'build-watcher');
  const dir = join(cacheRoot, 'controlplane', `${versions.kubernetes}-${versions.etcd}-${versions.eventing}`);
  const binaries: Binaries = {
    kubeApiserver: join(dir, 'kube-apiserver'),
    etcd: join(dir, 'etcd'),
    receiveAdapter: join(dir, 'apiserver_receive_adapter'),
  };
  for (const path of Object.values(binaries)) {
    try {
      await access(path);
    } catch {
      throw new Error(`${path} is missing: run \`npm run controlplane:build\` first`);
    }
  }
  return binaries;
}

const moduleDirs = new Map<string, Promise<string>>();

/**
 * Where a Go module's source sits in the module cache. build.sh has downloaded it, so this
 * normally only reads the cache.
 */
export function goModuleDir(modulePath: string, version: string): Promise<string> {
  const key = `${modulePath}@${version}`;
  let dir = moduleDirs.get(key);
  if (dir === undefined) {
    dir = downloadModule(key);
    moduleDirs.set(key, dir);
  }
  return dir;
}

async function downloadModule(key: string): Promise<string> {
  const { stdout } = await promisify(execFile)('go', ['mod', 'download', '-json', key], {
    cwd: '/',
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  });
  const parsed: unknown = JSON.parse(stdout);
  if (parsed !== null && typeof parsed === 'object' && 'Dir' in parsed && typeof parsed.Dir === 'string') {
    return parsed.Dir;
  }
  throw new Error(`go mod download ${key} gave no module directory`);
}
