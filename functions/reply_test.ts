/** Reply and announcement ids: derived from the object and its images, so a resubmission answered from cache is the same event. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BuiltImage } from './domain/built-image.js';
import { eventId } from './events/event-id.js';
import type { Outcome } from './pipeline/outcome.js';
import { imageBuiltEvent, replyFor, replyForSweep, type Reply } from './reply.js';
import { Tally } from './sweep/tally.js';

const object = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'ns', name: 'app-1', uid: 'u-1' };
const subject = '/apis/build.openshift.io/v1/namespaces/ns/builds/app-1';
const access = { credentials: { kind: 'none' }, verifyTls: true, fetchable: true } as const;
const OUT = `sha256:${'a'.repeat(64)}`;
const BASE = `sha256:${'b'.repeat(64)}`;

function submitted(options: { cached: boolean; analysisId: string; digest?: string; uid?: string }): Extract<Outcome, { kind: 'submitted' }> {
  const image: BuiltImage = { source: object, output: { registry: 'quay.io', repository: 'org/app', digest: options.digest ?? OUT }, base: { registry: 'quay.io', repository: 'org/base', digest: BASE },
    outcome: 'Complete', analysis: 'build', outputAccess: access, baseAccess: access };
  return { kind: 'submitted', object: { ...object, uid: options.uid ?? object.uid },
    images: [{ image, submission: { ids: { output: options.analysisId }, cached: options.cached, output: `quay.io/org/app@${options.digest ?? OUT}`, base: `quay.io/org/base@${BASE}` } }] };
}

async function reply(outcome: Outcome, analyzer = true): Promise<Reply> {
  const answer = await replyFor(outcome, analyzer);
  assert.ok(answer !== undefined && 'id' in answer, 'a CloudEvent');
  return answer;
}

describe('stable reply and announcement ids', () => {
  it('analysis.submitted: a first submission and a resubmission answered from cache ("already analyzed") are one fact, one id', async () => {
    const first = await reply(submitted({ cached: false, analysisId: 'a-1' }));
    const again = await reply(submitted({ cached: true, analysisId: 'a-1' }));
    assert.equal(again.id, first.id);
    assert.equal(first.id, eventId({ type: 'dev.build-watcher.analysis.submitted', subject, uid: 'u-1', facts: [[[OUT, BASE]]] }), 'the README recipe');
    assert.notEqual((await reply(submitted({ cached: false, analysisId: 'a-1', digest: `sha256:${'c'.repeat(64)}` }))).id, first.id, 'another image');
    assert.notEqual((await reply(submitted({ cached: false, analysisId: 'a-1', uid: 'u-2' }))).id, first.id, 'a re-created object');
  });

  it('image.built: the reply without Thoth and the K_SINK announcement with it carry the same id, the README recipe; other types differ', async () => {
    const outcome = submitted({ cached: false, analysisId: 'a-1' });
    const built = imageBuiltEvent(outcome);
    const expected = eventId({ type: 'dev.build-watcher.image.built', subject, uid: 'u-1', facts: [[[OUT, BASE]]] });
    assert.equal(built?.id, expected);
    assert.equal((await reply(outcome, false)).id, expected);
    assert.equal(imageBuiltEvent(submitted({ cached: true, analysisId: 'a-2' }))?.id, expected, 'whatever Thoth answered');
    assert.notEqual((await reply(outcome)).id, expected);
  });

  it('analysis.refused: the same reason for the same object is one id; another reason another', async () => {
    const refused = (reason: string): Outcome => ({ kind: 'refused', object, reason });
    const first = await reply(refused('Thoth refused it: 400 bad reference'));
    assert.equal((await reply(refused('Thoth refused it: 400 bad reference'))).id, first.id);
    assert.equal(first.id, eventId({ type: 'dev.build-watcher.analysis.refused', subject, uid: 'u-1', facts: ['Thoth refused it: 400 bad reference'] }));
    assert.notEqual((await reply(refused('Thoth refused it: 403'))).id, first.id);
  });

  it('sweep.completed: each run its own id, since each counts what it found', async () => {
    const summary = new Tally(['ns'], () => undefined).summary();
    const [a, b] = await Promise.all([replyForSweep(summary), replyForSweep(summary)]);
    assert.ok(a !== undefined && 'id' in a && b !== undefined && 'id' in b);
    assert.notEqual(a.id, b.id);
  });
});
