import { Ledger } from '../ledger/ledger.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCluster, MemoryThoth, memoryLogger, memoryPipeline } from '../../test/fakes/in-memory-cluster.js';
import { loadConfig } from '../config.js';
import type { PipelineDeps } from '../pipeline/analyze.js';
import { collectionsFor, sourcesFor } from '../wiring.js';
import { replyForSweep, type HttpAnswer } from '../reply.js';
import { SweepRequests } from './request.js';

const NS = 'team';
const config = loadConfig({ THOTH_USER_API_HOST: 'thoth.example.com', THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1' });
const requests = (lister: MemoryCluster, watchedNamespaces: readonly string[] = [NS], allNamespaces = false) =>
  new SweepRequests({ lister, collections: collectionsFor(config), watchedNamespaces, ownNamespace: async () => undefined, allNamespaces, batch: 10 });

/** What the function answers a sweep event with: the edge's reply for the summary. */
async function answerSweep(requests: SweepRequests, pipeline: PipelineDeps) {
  try {
    return await replyForSweep(await requests.run(pipeline));
  } catch (error) {
    return { statusCode: (error as { status: number }).status, body: (error as Error).message } as HttpAnswer;
  }
}

function setup() {
  const cluster = new MemoryCluster();
  const thoth = new MemoryThoth();
  cluster.put({
    apiVersion: 'build.openshift.io/v1',
    kind: 'Build',
    metadata: { name: 'app-1', namespace: NS },
    spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: 'quay.io/org/app:1' } } },
    status: { phase: 'Complete', outputDockerImageReference: 'quay.io/org/app:1', output: { to: { imageDigest: `sha256:${'1'.repeat(64)}` } } },
  });
  const log = memoryLogger();
  const pipeline = memoryPipeline(cluster, thoth, sourcesFor(config), { log });
  return { cluster, thoth, pipeline, log };
}

const isPlain = (answer: unknown): answer is HttpAnswer => typeof answer === 'object' && answer !== null && 'statusCode' in answer;

describe('a sweep event in the function', () => {
  it('answers a sweep.completed CloudEvent with the summary, logged as one line', async () => {
    const { cluster, pipeline, log } = setup();
    const answer = await answerSweep(requests(cluster), pipeline);
    assert.ok(!isPlain(answer));
    assert.equal(answer.type, 'dev.build-watcher.sweep.completed');
    assert.equal((answer.data as { submitted?: number } | undefined)?.submitted, 1);
    assert.equal(log.lines.filter((line) => line.message.startsWith('sweep: 1 submitted')).length, 1);
  });

  it('answers 503 with the summary when anything failed transiently, so the Broker redelivers', async () => {
    const { cluster, thoth, pipeline } = setup();
    thoth.fail = () => true;
    const answer = await answerSweep(requests(cluster), pipeline);
    assert.ok(isPlain(answer));
    assert.equal(answer.statusCode, 503);
    assert.match(answer.body, /^sweep: 0 submitted, 0 refused, 1 failed/);
  });

  it('runs one sweep at a time: a redelivery during a sweep gets that sweep\'s summary', async () => {
    const { cluster, thoth, pipeline } = setup();
    const shared = requests(cluster);
    const [first, second] = await Promise.all([answerSweep(shared, pipeline), answerSweep(shared, pipeline)]);
    assert.equal(thoth.builds.length, 1);
    assert.ok(!isPlain(first) && !isPlain(second));
    assert.deepEqual(first.data, second.data);
  });

  it('refuses with 422 when it cannot tell which namespaces to sweep, or cannot read the API', async () => {
    const { cluster, pipeline } = setup();
    const nowhere = await answerSweep(requests(cluster, []), pipeline);
    assert.ok(isPlain(nowhere) && nowhere.statusCode === 422 && /THOTH_WATCHED_NAMESPACE/.test(nowhere.body));
    const trusting = await answerSweep(requests(cluster), { ...pipeline, ledger: new Ledger({ store: cluster, hostname: 'test', readOnly: true }) });
    assert.ok(isPlain(trusting) && trusting.statusCode === 422);
  });

  it('the all-namespaces variant sweeps every namespace it may list, with one cluster-wide list per kind', async () => {
    const { cluster, thoth, pipeline } = setup();
    cluster.put({
      apiVersion: 'build.openshift.io/v1',
      kind: 'Build',
      metadata: { name: 'elsewhere-1', namespace: 'other-team' },
      spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'DockerImage', name: 'quay.io/org/other:1' } } },
      status: { phase: 'Complete', outputDockerImageReference: 'quay.io/org/other:1', output: { to: { imageDigest: `sha256:${'2'.repeat(64)}` } } },
    });
    const answer = await answerSweep(requests(cluster, [], true), pipeline);
    assert.ok(!isPlain(answer));
    assert.equal((answer.data as { submitted?: number } | undefined)?.submitted, 2);
    assert.deepEqual((answer.data as { namespaces?: string[] } | undefined)?.namespaces, ['*']);
    assert.equal(thoth.builds.length, 2);
    assert.deepEqual(cluster.pageRequests.map((request) => request.collection), ['build.openshift.io/v1/Build'], 'one list, not one per namespace');
  });
});
