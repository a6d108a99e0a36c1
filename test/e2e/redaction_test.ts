/**
 * A hostile Thoth echoes the credentials it was sent, in every encoding of the encoder table
 * (test/observability/secret-encodings.ts), back as its error text and as `analysis_id`: none of
 * it reaches an output a Build's author or anyone else reads. End to end: the real API server,
 * the function under faas-js-runtime with its service account in token mode, a real registry the
 * token goes to (an ImageStream vouches for it), and the Thoth stand-in rewriting its answers.
 * Outputs searched: the Events, the Build's annotations, the replies (headers and body), every log
 * line, and /metrics.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ANNOTATIONS } from '../../functions/domain/annotations.js';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.js';
import { ENCODERS } from '../observability/secret-encodings.js';
import { pushTestImage, startRegistry, type PushedImage, type RunningRegistry } from '../registry/docker-registry.js';
import { ThothStub, type StubAnswer } from '../thoth-stub/thoth-stub.js';
import { postBinaryEvent, startFunction, type RunningFunction } from '../function/run-function.js';
import { annotationsOf, clusterRegistryStream, createWithStatus, FUNCTION_RULES, prepareNamespace } from './cluster.js';

const NS = 'e2e-redact';
/** The service-account token, with the characters each encoding treats differently. */
const TOKEN = "s3cr3t-t0k3n/p@ss:w0rd'()*!+~";

type Json = Record<string, unknown>;

/** Every string in a JSON value, each on its own line: escapes undone, so a piece is found as it reads. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([key, item]) => [key, ...strings(item)]);
  return [];
}

function parsedOrNot(line: string): string[] {
  try {
    return [line, ...strings(JSON.parse(line))];
  } catch {
    return [line];
  }
}

describe('a hostile Thoth echoing the credentials in every encoding, end to end', { timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let registry: RunningRegistry;
  let thoth: ThothStub;
  let fn: RunningFunction;
  let dir: string;
  let app: PushedImage;
  const replies: string[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bw-e2e-redact-'));
    await writeFile(path.join(dir, 'token'), `${TOKEN}\n`);
    [cp, registry] = await Promise.all([startControlPlane(), startRegistry()]);
    app = await pushTestImage(registry, { repository: `${NS}/app`, tag: 'latest', layerSizes: [256] });
    thoth = await ThothStub.start({ plainHttpRegistries: [registry.host] });
    await prepareNamespace(cp, NS, { 'build-watcher': FUNCTION_RULES });
    // The ImageStream vouches for the registry: the token goes to Thoth with the image.
    await clusterRegistryStream(cp, registry.host, NS, 'app');
    fn = await startFunction({
      env: {
        THOTH_USER_API_HOST: thoth.url,
        KUBECONFIG: await cp.kubeconfigForServiceAccount(NS, 'build-watcher'),
        THOTH_WATCHED_NAMESPACE: NS,
        THOTH_BUILD_ANALYSIS_NO_BUILD_LOG: '1',
        THOTH_NO_SOURCE_REGISTRY_TLS_VERIFY: '1',
        THOTH_PASS_TOKEN: '1',
        BUILD_WATCHER_TOKEN_FILE: path.join(dir, 'token'),
      },
    });
  });

  after(async () => {
    await fn?.stop();
    await thoth?.close();
    await registry?.stop();
    await cp?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function deliver(name: string, rewrite: (answer: StubAnswer, password: string) => StubAnswer): Promise<Response> {
    thoth.rewriteNext(1, (answer, query) => rewrite(answer, query['output_registry_password'] ?? ''));
    const reference = `${registry.host}/${NS}/app:latest`;
    const build = await createWithStatus(cp, {
      apiVersion: 'build.openshift.io/v1', kind: 'Build', metadata: { name, namespace: NS },
      spec: { strategy: { type: 'Docker', dockerStrategy: {} }, output: { to: { kind: 'ImageStreamTag', name: 'app:latest' } } },
    }, { phase: 'Complete', outputDockerImageReference: reference, output: { to: { imageDigest: app.digest } } });
    const response = await postBinaryEvent(fn.url, { type: 'dev.knative.apiserver.resource.update', object: build });
    replies.push(JSON.stringify([...response.headers]), await response.clone().text());
    return response;
  }

  it('none of it reaches the Events, the annotations, the replies, the logs or /metrics', async () => {
    const encoders = Object.entries(ENCODERS);
    for (const [index, [encoding, encode]] of encoders.entries()) {
      // Thoth's inspect error, echoing the password it was given.
      const refused = await deliver(`error-${index}`, (answer, password) =>
        ({ status: 403, body: { error: `There was an error accessing the image with ${encode(password).text}`, parameters: { image: 'x' } } }));
      assert.equal(refused.headers.get('ce-type'), 'dev.build-watcher.analysis.refused', encoding);
      // An accepted submission whose analysis id is the password.
      const accepted = await deliver(`id-${index}`, (answer, password) => {
        const body = answer.body as Json;
        return { status: answer.status, body: { ...body, output_image_analysis: { ...(body['output_image_analysis'] as Json), analysis_id: encode(password).text } } };
      });
      assert.equal(accepted.headers.get('ce-type'), 'dev.build-watcher.analysis.submitted', `${encoding}: ${await accepted.clone().text()}`);
    }
    assert.ok(thoth.attempts.some((attempt) => attempt.images.some((image) => image.password === TOKEN)), 'not vacuous: Thoth was sent the token');

    const events = (await cp.admin.json({ path: `/api/v1/namespaces/${NS}/events` })) as { items: Json[] };
    assert.ok(events.items.length >= encoders.length * 2, `an Event per delivery, got ${events.items.length}`);
    const builds = (await cp.admin.json({ path: `/apis/build.openshift.io/v1/namespaces/${NS}/builds` })) as { items: Json[] };
    const ids = builds.items.map((build) => annotationsOf(build)[ANNOTATIONS.analysisIds]).filter((value) => value !== undefined);
    assert.equal(ids.length, encoders.length, 'every accepted Build is marked with its (withheld) id');
    const outputs: Record<string, string[]> = {
      Events: [JSON.stringify(events), ...strings(events)],
      annotations: [JSON.stringify(builds), ...builds.items.flatMap((build) => Object.values(annotationsOf(build)))],
      replies: replies.flatMap(parsedOrNot),
      logs: fn.lines.flatMap(parsedOrNot),
      metrics: [await (await fetch(`${fn.url}/metrics`)).text()],
    };
    for (const [where, texts] of Object.entries(outputs)) {
      const text = texts.join('\n');
      for (const [encoding, encode] of encoders) {
        for (const piece of encode(TOKEN).pieces) assert.equal(text.includes(piece), false, `${encoding} (${piece}) is in the ${where}`);
      }
    }
  });
});
