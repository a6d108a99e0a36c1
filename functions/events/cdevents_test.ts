import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { artifactEvents, CDEVENT_TYPES, ociPurl } from './cdevents.js';
import { eventId } from './event-id.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const object = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'ns', name: 'app-1', uid: 'u-1' };
const image = { registry: 'registry.example:5000', repository: 'ns/App', tag: 'latest', digest: DIGEST };
const NOW = new Date('2026-12-01T10:00:00Z');
/** customData's image: the reference by digest, repository case as built. */
const PULLED = `registry.example:5000/ns/App@${DIGEST}`;

describe('CDEvents', () => {
  it('the subject id is the oci purl: lowercased last segment, the digest colon encoded, repository_url as the oci examples write it', () => {
    assert.equal(ociPurl(image), `pkg:oci/app@sha256%3A${'ab'.repeat(32)}?repository_url=registry.example:5000/ns/App`);
    assert.equal(ociPurl({ registry: 'quay.io', repository: 'app', digest: DIGEST }), `pkg:oci/app@sha256%3A${'ab'.repeat(32)}?repository_url=quay.io/app`);
  });

  it('packaged only with a revision; content empty for published, the change for packaged; the rest in customData, the image by digest included', () => {
    assert.deepEqual(artifactEvents({ object, image }, ['published', 'packaged'], NOW).map((e) => e.type), [CDEVENT_TYPES.published]);
    const events = artifactEvents({ object, image, revision: 'c0ffee', analysisIds: { output: 'a-1' } }, ['published', 'packaged'], NOW);
    assert.deepEqual(events.map((e) => e.type), [CDEVENT_TYPES.published, CDEVENT_TYPES.packaged]);
    const [published, packaged] = events.map((e) => e.data as { context: unknown; subject: { content: unknown }; customData: unknown });
    assert.deepEqual(published?.subject.content, {});
    assert.deepEqual(packaged?.subject.content, { change: { id: 'c0ffee' } });
    assert.deepEqual(packaged?.customData, { object, image: PULLED, analysisIds: { output: 'a-1' } });
    assert.deepEqual(artifactEvents({ object, image, analysisIds: {} }, ['published'], NOW).map((e) => (e.data as { customData: unknown }).customData), [{ object, image: PULLED }]);
    assert.deepEqual(artifactEvents({ object, image, revision: 'c0ffee' }, ['packaged'], NOW).map((e) => e.type), [CDEVENT_TYPES.packaged]);
    assert.deepEqual(artifactEvents({ object, image, revision: 'c0ffee' }, [], NOW), []);
  });

  it('the CloudEvent copies the context (type, source, id) and takes the purl as subject; the id is stable: type, object, digest', () => {
    const [event] = artifactEvents({ object, image }, ['published'], NOW);
    const again = artifactEvents({ object, image, analysisIds: { output: 'cached' } }, ['published'], new Date(NOW.getTime() + 60_000))[0];
    const context = (event?.data as { context: Record<string, unknown> }).context;
    assert.deepEqual(context, { version: '0.3.0', id: event?.id, source: '/build-watcher', type: CDEVENT_TYPES.published, timestamp: '2026-12-01T10:00:00.000Z' });
    assert.equal(event?.source, context['source']);
    assert.equal(event?.subject, ociPurl(image));
    assert.equal(event?.id, eventId({ type: CDEVENT_TYPES.published, subject: '/apis/build.openshift.io/v1/namespaces/ns/builds/app-1', uid: 'u-1', facts: [DIGEST] }));
    assert.equal(again?.id, event?.id, 'a later resend of the same fact');
  });
});
