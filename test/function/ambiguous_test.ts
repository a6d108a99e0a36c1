/**
 * A submission whose outcome is unknown, through the real runtime: Thoth accepts it but
 * answers after THOTH_REQUEST_TIMEOUT_SECONDS. The delivery gets 503 at once and the metric
 * counts it; the redelivery sends it again, and Thoth answers from its cache (README, "The
 * duplicate window").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pushTestImage, startRegistry, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub } from '../thoth-stub/thoth-stub.js';
import { metricTotal, postBinaryEvent, startFunction, type RunningFunction } from './run-function.js';

describe('the function when Thoth answers a submission too late', () => {
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
        THOTH_REQUEST_TIMEOUT_SECONDS: '1',
      },
    });
  });

  after(async () => {
    await fn?.stop();
    await thoth?.close();
    await registry?.stop();
  });

  it('answers 503 without re-sending, counts it, and the redelivery is answered from the cache', async () => {
    const event = {
      type: 'dev.knative.apiserver.resource.update',
      object: {
        apiVersion: 'build.openshift.io/v1',
        kind: 'Build',
        metadata: { name: 'late-1', namespace: 'team-a', uid: 'uid-late-1', resourceVersion: '3' },
        spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'ImageStreamTag', name: 'app:v1' } } },
        status: { phase: 'Complete', outputDockerImageReference: `${registry.host}/team-a/app:v1`, output: { to: { imageDigest: digest } } },
      },
    };
    const ambiguous = () => metricTotal(fn.url, /^build_watcher_thoth_ambiguous_submissions_total\{[^}]*endpoint="build-analysis"/);
    assert.equal(await ambiguous(), 0);
    thoth.holdNext(1);
    const first = await postBinaryEvent(fn.url, event);
    const line = await first.text();
    assert.equal(first.status, 503, line);
    assert.match(line, /Thoth build-analysis outcome unknown: timed out after 1 s; not re-sent/);
    const [accepted] = await thoth.awaitSubmissions(1);
    thoth.releaseHeld();
    assert.deepEqual(thoth.requests.filter((request) => request.method === 'POST').map((request) => request.status), [202], 'sent once');
    assert.equal(await ambiguous(), 1);

    const again = await postBinaryEvent(fn.url, event);
    assert.equal(again.status, 200, await again.clone().text());
    const submissions = await thoth.awaitSubmissions(2);
    const analysis = (index: number) => submissions[index]?.response['output_image_analysis'] as { analysis_id: string; cached: boolean } | undefined;
    assert.equal(analysis(1)?.cached, true, 'Thoth answered the re-send from its cache');
    assert.equal(analysis(1)?.analysis_id, analysis(0)?.analysis_id);
    assert.equal(accepted?.body?.output_image, submissions[1]?.body?.output_image);
    assert.equal(await ambiguous(), 1);
  });
});
