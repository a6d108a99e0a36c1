/**
 * Admission through the real runtime under parallel delivery: THOTH_BUILD_WATCHER_WORKERS objects
 * at once, BUILD_WATCHER_QUEUE_LIMIT deliveries waiting, and a numeric 503 at once past that.
 * Thoth's answers are held to keep the workers busy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../harness/wait.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { metricTotal, postBinaryEvent, startFunction, type RunningFunction } from './run-function.js';

const WORKERS = 2;
const QUEUE_LIMIT = 2;

describe('the function with every worker busy', () => {
  let registry: RunningRegistry;
  let thoth: ThothStub;
  let fn: RunningFunction;
  let digest: string;

  before(async () => {
    registry = await startRegistry();
    ({ digest } = await pushTestImage(registry, { repository: 'team-a/app', tag: 'v1', layerSizes: [1024] }));
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
    fn = await startFunction({
      env: {
        THOTH_USER_API_HOST: thoth.url,
        BUILD_WATCHER_TRUST_EVENT_PAYLOAD: '1',
        THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1',
        THOTH_BUILD_WATCHER_WORKERS: String(WORKERS),
        BUILD_WATCHER_QUEUE_LIMIT: String(QUEUE_LIMIT),
      },
    });
  });

  after(async () => {
    await fn?.stop();
    await thoth?.close();
    await registry?.stop();
  });

  const complete = (name: string) => postBinaryEvent(fn.url, {
    type: 'dev.knative.apiserver.resource.update',
    object: {
      apiVersion: 'build.openshift.io/v1',
      kind: 'Build',
      metadata: { name, namespace: 'team-a', uid: `uid-${name}`, resourceVersion: '3' },
      spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'ImageStreamTag', name: 'app:v1' } } },
      status: { phase: 'Complete', outputDockerImageReference: `${registry.host}/team-a/app:v1`, output: { to: { imageDigest: digest } } },
    },
  });

  it('queues deliveries beyond the workers up to the limit, answers the next 503 at once, and completes the queued ones when workers free up', async () => {
    thoth.holdNext(WORKERS);
    const working = ['busy-0', 'busy-1'].map(complete);
    await thoth.awaitSubmissions(WORKERS);
    const queued = ['queued-0', 'queued-1'].map(complete);
    const waiting = () => metricTotal(fn.url, /^build_watcher_waiting_for_worker\{[^}]*priority="live"/);
    await waitFor(async () => ((await waiting()) === QUEUE_LIMIT ? true : undefined), { what: `${QUEUE_LIMIT} deliveries queued`, timeoutMs: 20_000, intervalMs: 20 });

    // Answered while every worker is still held at Thoth: it waited for nothing.
    const turnedAway = await complete('turned-away');
    const line = await turnedAway.text();
    assert.equal(turnedAway.status, 503, line);
    assert.match(line, /^all 2 workers are busy and 2 deliveries wait: try again later\n$/);
    assert.equal(thoth.held, WORKERS, 'the workers were still busy when it was answered');
    assert.equal(await metricTotal(fn.url, /^build_watcher_events_received_total\{[^}]*decision="queue-full"/), 1);

    thoth.releaseHeld();
    const answers = await Promise.all([...working, ...queued]);
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 200, 200]);
    const submitted = (await thoth.awaitSubmissions(4)).map((submission) => submission.body?.output_image ?? '');
    assert.equal(submitted.length, 4, 'the turned-away delivery never reached Thoth');
    assert.equal(await waiting(), 0);

    // Its redelivery finds a worker.
    const again = await complete('turned-away');
    assert.equal(again.status, 200, await again.text());
  });
});
