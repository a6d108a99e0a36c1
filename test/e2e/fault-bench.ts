/**
 * What the fault scenarios (faults_test.ts, restart_test.ts) share: the real kube-apiserver and
 * etcd, a registry holding each namespace's image, the Thoth stand-in behind a relay that can
 * withhold its answers, the function (direct-sink variant, claims leased for 3 s) and the real
 * ApiServerSource adapter posting straight to it; and the counting every scenario ends with:
 * submissions per Build at the stand-in, by the build log's `namespace/name`.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import type { AdapterHandle } from '../harness/adapter.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { waitFor } from '../harness/wait.js';
import { postCloudEvent, startFunction } from '../function/run-function.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { FUNCTION_RULES, finishBuild, functionEnv, listBuilds, prepareNamespace, submissionsPerBuild, type BuildItem, type Rule } from './cluster.js';
import { startHttpRelay, type HttpRelay } from './http-relay.js';

export const LEASE_SECONDS = '3';
const ADAPTER_RULES: readonly Rule[] = [{ apiGroups: ['build.openshift.io'], resources: ['builds'], verbs: ['get', 'list', 'watch'] }];

export type RunningFunction = Awaited<ReturnType<typeof startFunction>>;

export interface SweepSummary {
  readonly picked: number;
  readonly submitted: number;
  readonly busy: number;
  readonly failed: number;
  readonly complete: boolean;
}

export const names = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
/** A function's last lines, for a timeout's message. */
export const tail = (fn: RunningFunction) => () => fn.lines.slice(-30).join('\n');

export class FaultBench {
  /** What a scenario started, stopped when it ends (`cleanup`): the next one runs alone. */
  readonly #cleanups: (() => Promise<unknown>)[] = [];
  readonly #digests = new Map<string, string>();

  private constructor(
    readonly cp: ControlPlane,
    readonly registry: RunningRegistry,
    readonly thoth: ThothStub,
    /** In front of Thoth: can withhold an accepted answer from the function. */
    readonly thothFront: HttpRelay,
  ) {}

  static async start(): Promise<FaultBench> {
    const [cp, registry] = await Promise.all([startControlPlane(), startRegistry()]);
    const thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
    return new FaultBench(cp, registry, thoth, await startHttpRelay([thoth.url]));
  }

  /** Stopped when the scenario ends, last started first. */
  onCleanup(cleanup: () => Promise<unknown>): void {
    this.#cleanups.push(cleanup);
  }

  async cleanup(): Promise<void> {
    for (const cleanup of this.#cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.cleanup();
    await this.thothFront.close();
    await this.thoth.close();
    await this.registry.stop();
    await this.cp.stop();
  }

  /** Service accounts `watcher` (the function) and `adapter`, and an image in the registry. */
  async namespace(ns: string): Promise<void> {
    await prepareNamespace(this.cp, ns, { watcher: FUNCTION_RULES, adapter: ADAPTER_RULES });
    const image = await pushTestImage(this.registry, { repository: `${ns}/app`, tag: 'latest', layerSizes: [256] });
    this.#digests.set(ns, image.digest);
  }

  /** Finished Builds, one after the other as a busy namespace produces them; all share one image. */
  async finishBuilds(ns: string, builds: readonly string[]): Promise<void> {
    for (const name of builds) await finishBuild(this.cp, ns, name, `${this.registry.host}/${ns}/app:latest`, this.#digests.get(ns) ?? '');
  }

  /** Accepted submissions per Build of `ns`, by the build log's `namespace/name`. */
  submissionsPerBuild(ns: string): Map<string, number> {
    return submissionsPerBuild(this.thoth, ns);
  }

  submittedIn(ns: string): number {
    return [...this.submissionsPerBuild(ns).values()].reduce((sum, count) => sum + count, 0);
  }

  listBuilds(ns: string): Promise<readonly BuildItem[]> {
    return listBuilds(this.cp, ns);
  }

  async allMarked(ns: string, builds: readonly string[], onTimeout: () => string): Promise<void> {
    await waitFor(
      async () => {
        const marked = new Set((await this.listBuilds(ns)).filter((build) => build.metadata.annotations?.[ANNOTATIONS.submittedAt] !== undefined).map((build) => build.metadata.name));
        return builds.every((name) => marked.has(name)) ? true : undefined;
      },
      { what: `${builds.length} Builds in ${ns} to be marked submitted`, timeoutMs: 90_000, onTimeout },
    );
  }

  /** A `dev.build-watcher.sweep.requested` CloudEvent posted to `url`; its summary. */
  async sweep(url: string): Promise<SweepSummary> {
    const response = await postCloudEvent(url, 'dev.build-watcher.sweep.requested', '{}', { source: '/e2e' });
    const text = await response.text();
    assert.equal(response.status, 200, `the sweep answered ${response.status}: ${text}`);
    return JSON.parse(text) as SweepSummary;
  }

  async functionFor(ns: string, extra: Readonly<Record<string, string>> = {}): Promise<RunningFunction> {
    const fn = await startFunction({
      env: { ...functionEnv(await this.cp.kubeconfigForServiceAccount(ns, 'watcher'), this.thothFront.url, ns, LEASE_SECONDS), ...extra },
    });
    this.onCleanup(() => fn.stop());
    return fn;
  }

  /** The adapter of an ApiServerSource on `ns`'s Builds, posting to `sink`. */
  async adapterFor(ns: string, sink: string): Promise<AdapterHandle> {
    const adapter = await this.cp.startAdapter({
      sink: `${sink}/`,
      resources: [{ apiVersion: 'build.openshift.io/v1', kind: 'Build' }],
      mode: 'Resource',
      kubeconfigPath: await this.cp.kubeconfigForServiceAccount(ns, 'adapter'),
      namespaces: [ns],
      name: ns,
      namespace: ns,
    });
    this.onCleanup(() => adapter.stop());
    return adapter;
  }

  /** Every Build of `ns` submitted exactly once, none of any other name. */
  assertEachOnce(ns: string, builds: readonly string[]): void {
    assert.deepEqual(Object.fromEntries(this.submissionsPerBuild(ns)), Object.fromEntries(builds.map((name) => [name, 1])));
  }

  /** The counts behind a scenario, in the test report. */
  report(t: TestContext, ns: string, extra: Readonly<Record<string, unknown>>): void {
    t.diagnostic(JSON.stringify({ perBuild: Object.fromEntries(this.submissionsPerBuild(ns)), ...extra }));
  }
}
