/**
 * `npm run bench` (third part): every quiet period ends in a cold start, and the first event
 * after it is the one a user waits for. Process start → the answer to the first Complete event,
 * through the real API server (kube-apiserver through the harness's front, with the function's
 * own service-account token), the Thoth stand-in and a registry on loopback; against the echo
 * function's start → its first answer. Both run as in a pod: in a mount namespace of their own
 * where the service account's token, CA and namespace are at the kubelet's path, with
 * KUBERNETES_SERVICE_HOST/PORT set and no kubeconfig, so the function reads its account the
 * way it does on a cluster (the machine's own /run is untouched). Then where the time goes (ready, the first API call, the
 * first submission) and the Kubernetes API calls one submitted Build costs. Compiled JavaScript.
 * A benchmark: it prints, it asserts nothing.
 */
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { FUNCTION_RULES, prepareNamespace, buildObject, completeStatus, createWithStatus } from '../e2e/cluster.js';
import { apiServerAttributes, cloudEventHeaders, inPod } from '../function/run-function.js';
import { startControlPlane } from '../harness/controlplane.js';
import { pushTestImage, startRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { startRuntime } from './runtime.js';

// Run through tsx from the repository (the harness reads its versions beside its sources); the
// function and the echo handler are the compiled ones `npm run build` made.
const ROOT = process.cwd();
const FUNCTION = path.join(ROOT, 'build/functions/index.js');
const ECHO = path.join(ROOT, 'build/test/bench/echo-function.js');
const RUNS = Number(process.env['BENCH_COLD_RUNS'] ?? 5);
const NS = 'bench-cold';

function post(port: number, type: string, object: Record<string, unknown>): Promise<number> {
  const body = JSON.stringify(object);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent: false,
        headers: { ...cloudEventHeaders(type, apiServerAttributes(object)), 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Pod {
  readonly env: Record<string, string>;
  /** A directory holding `token`, `ca.crt` and `namespace`. */
  readonly serviceAccount: string;
}

interface Cold {
  readyMs: number;
  /** Each step's answer time, from process start. */
  answersMs: number[];
  statuses: number[];
}

async function coldRun(file: string, pod: Pod, steps: readonly { type: string; object: Record<string, unknown> }[]): Promise<Cold> {
  const [unshare, prefix] = inPod(pod.serviceAccount, []);
  const launcher = [unshare, ...prefix];
  const runtime = await startRuntime(ROOT, file, pod.env, { readyWithinMs: 30_000, launcher });
  try {
    const answersMs: number[] = [];
    const statuses: number[] = [];
    for (const step of steps) {
      statuses.push(await post(runtime.port, step.type, step.object));
      answersMs.push(runtime.since());
    }
    return { readyMs: runtime.readyMs, answersMs, statuses };
  } finally {
    await runtime.stop();
  }
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const ms = (value: number) => `${value.toFixed(0)} ms`;

async function main(): Promise<void> {
  const [cp, registry] = await Promise.all([startControlPlane(), startRegistry()]);
  const thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
  try {
    const image = await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [1024] });
    await prepareNamespace(cp, NS, { 'build-watcher': FUNCTION_RULES });
    const serviceAccount = await cp.serviceAccountDirectory(NS, 'build-watcher');
    const token = await readFile(path.join(serviceAccount, 'token'), 'utf8');
    const pod: Pod = { serviceAccount, env: { ...cp.inClusterEnv, THOTH_USER_API_HOST: thoth.url, THOTH_WATCHED_NAMESPACE: NS, THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1' } };
    const reference = `${registry.host}/${NS}/app:latest`;
    const update = 'dev.knative.apiserver.resource.update';

    const first: number[] = [];
    const echoFirst: number[] = [];
    const ready: number[] = [];
    const apiCall: number[] = [];
    const submission: number[] = [];
    const callsPerBuild: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const build = await createWithStatus(cp, buildObject(NS, `cold-${run}`, reference), completeStatus(reference, image.digest));
      const echo = await coldRun(ECHO, pod, [{ type: update, object: build }]);
      echoFirst.push(echo.answersMs[0] ?? 0);
      const before = cp.apiCallsWith(token).length;
      const ours = await coldRun(FUNCTION, pod, [{ type: update, object: build }]);
      first.push(ours.answersMs[0] ?? 0);
      callsPerBuild.push(cp.apiCallsWith(token).length - before);
      if (ours.statuses[0] !== 200) console.log(`  run ${run}: the first event was answered ${ours.statuses[0] ?? 0}`);
      // The breakdown, in a process of its own: a reference to a Build that does not exist costs
      // reading the service account, the API's TLS and one GET; then a Complete Build costs the Thoth client's
      // load, discovery and the submission, with the claim and mark.
      const other = await createWithStatus(cp, buildObject(NS, `cold-parts-${run}`, reference), completeStatus(reference, image.digest));
      const parts = await coldRun(FUNCTION, pod, [
        { type: 'dev.knative.apiserver.ref.update', object: { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: NS, name: `absent-${run}`, metadata: { name: `absent-${run}`, namespace: NS } } },
        { type: update, object: other },
      ]);
      ready.push(parts.readyMs);
      apiCall.push((parts.answersMs[0] ?? 0) - parts.readyMs);
      submission.push((parts.answersMs[1] ?? 0) - (parts.answersMs[0] ?? 0));
    }
    const ratio = median(first) / median(echoFirst);
    console.log(`\ncold start to first submission, median of ${RUNS} (real API server, Thoth stand-in, loopback registry):`);
    console.log(`  echo function, start → first answer        ${ms(median(echoFirst))}`);
    console.log(`  build-watcher, start → first submission    ${ms(median(first))}  ratio ${ratio.toFixed(2)}× echo (target ≤ 2.0×)`);
    console.log(`  where it goes: start → ready ${ms(median(ready))} (imports); first API call ${ms(median(apiCall))} (service account files, TLS, GET); first submission ${ms(median(submission))} (axios import, discovery, claim, submit, mark, Event)`);
    console.log(`  Kubernetes API calls per submitted Build: ${median(callsPerBuild)} (GET the Build, PATCH the claim, PATCH the mark, POST the Event)`);
  } finally {
    await thoth.close();
    await registry.stop();
    await cp.stop();
  }
}

await main();
