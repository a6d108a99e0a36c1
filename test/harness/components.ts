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
  /** knative.dev/serving: only its Service CRD is installed; Serving does not run. */
  serving: string;
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
    serving: get('SERVING_VERSION'),
  };
}

/** Knative Eventing's components, built by test/controlplane/build.sh from the eventing module. */
export interface EventingBinaries {
  /** Our one process over upstream's reconcilers (test/controlplane/eventing/controllers). */
  controllers: string;
  ingress: string;
  filter: string;
  dispatcher: string;
  mtping: string;
}

/** Same cache layout as test/controlplane/build.sh. */
function binaryDir(versions: ComponentVersions): string {
  const cacheRoot =
    process.env['BUILD_WATCHER_CACHE'] ??
    join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'build-watcher');
  return join(cacheRoot, 'controlplane', `${versions.kubernetes}-${versions.etcd}-${versions.eventing}`);
}

async function mustExist<T extends object>(binaries: T): Promise<T> {
  for (const path of Object.values(binaries) as string[]) {
    try {
      await access(path);
    } catch {
      throw new Error(`${path} is missing: run \`npm run controlplane:build\` first`);
    }
  }
  return binaries;
}

export async function locateBinaries(versions: ComponentVersions): Promise<Binaries> {
  const dir = binaryDir(versions);
  return mustExist({
    kubeApiserver: join(dir, 'kube-apiserver'),
    etcd: join(dir, 'etcd'),
    receiveAdapter: join(dir, 'apiserver_receive_adapter'),
  });
}

export async function eventingBinaries(versions: ComponentVersions): Promise<EventingBinaries> {
  const dir = binaryDir(versions);
  return mustExist({
    controllers: join(dir, 'eventing_controllers'),
    ingress: join(dir, 'broker_ingress'),
    filter: join(dir, 'broker_filter'),
    dispatcher: join(dir, 'imc_dispatcher'),
    mtping: join(dir, 'mtping'),
  });
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
