import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sourceBuild } from '../builds/fixtures/builds.js';
import { BuildWatcherError } from '../errors.js';
import { parseIncomingEvent, type CloudEventLike } from './intake.js';

const extensions = { kind: 'Build', name: 'app-3', namespace: 'myproject', apiversion: 'build.openshift.io/v1' };

function rejects(event: CloudEventLike, pattern: RegExp, status = 400): void {
  assert.throws(() => parseIncomingEvent(event), (error: unknown) => {
    assert.ok(error instanceof BuildWatcherError, 'expected a BuildWatcherError');
    assert.equal(error.kind, 'invalid');
    assert.equal(error.status, status);
    assert.match(error.message, pattern);
    assert.equal(error.message.includes('\n'), false);
    return true;
  });
}

describe('parseIncomingEvent', () => {
  it('Resource mode: the object, as data or as a JSON string', () => {
    for (const data of [sourceBuild(), JSON.stringify(sourceBuild()), Buffer.from(JSON.stringify(sourceBuild()))]) {
      const event = parseIncomingEvent({ type: 'dev.knative.apiserver.resource.update', data, ...extensions });
      assert.equal(event.mode, 'resource');
      if (event.mode === 'resource') {
        assert.equal(event.action, 'update');
        assert.equal(event.object.name, 'app-3');
        assert.equal(event.object.uid, (sourceBuild()['metadata'] as { uid: string }).uid);
      }
    }
  });

  it('Reference mode: coordinates only', () => {
    const event = parseIncomingEvent({
      type: 'dev.knative.apiserver.ref.add',
      data: { apiVersion: 'build.openshift.io/v1', kind: 'Build', name: 'app-3', namespace: 'myproject' },
      ...extensions,
    });
    assert.deepEqual(event, { mode: 'reference', action: 'add', ref: { apiVersion: 'build.openshift.io/v1', kind: 'Build', name: 'app-3', namespace: 'myproject' } });
  });

  it('sweep requests from a PingSource or by hand', () => {
    assert.deepEqual(parseIncomingEvent({ type: 'dev.knative.sources.ping', data: {} }), { mode: 'sweep' });
    assert.deepEqual(parseIncomingEvent({ type: 'dev.build-watcher.sweep.requested' }), { mode: 'sweep' });
  });

  it('rejects bad input with one line saying why', () => {
    rejects({ type: 'com.example.other' }, /unknown event type "com.example.other"/);
    rejects({ type: 'dev.knative.apiserver.resource.patch', data: sourceBuild() }, /expected dev.knative.apiserver.resource.add, update or delete/);
    rejects({ type: 'dev.knative.apiserver.resource.add', data: '{"kind": "Bu' }, /malformed JSON/);
    rejects({ type: 'dev.knative.apiserver.resource.add', data: [1, 2] }, /expected a Kubernetes object, got an array/);
    rejects({ type: 'dev.knative.apiserver.resource.add', data: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'n' } } }, /unsupported object v1\/Pod/, 422);
    rejects({ type: 'dev.knative.apiserver.resource.add', data: { apiVersion: 'build.openshift.io/v1', kind: 'Build', metadata: { name: 'UPPER case', namespace: 'n' } } }, /expected a Kubernetes object name/);
    rejects({ type: 'dev.knative.apiserver.resource.add', data: { apiVersion: 'build.openshift.io/v1', kind: 'Build', metadata: { name: 'x'.repeat(300), namespace: 'n' } } }, /a 300-character string/);
    rejects({ type: 'dev.knative.apiserver.resource.add', data: sourceBuild(), ...extensions, name: 'other' }, /extension name="other" does not match/);
    rejects({ type: 42 }, /without a type/);
  });

  it('dev.build-watcher.object.pending, a sweep\'s hand-off: exactly the four coordinates, checked as strictly as a reference', () => {
    const ref = { apiVersion: 'build.openshift.io/v1', kind: 'Build', name: 'app-3', namespace: 'myproject' };
    const type = 'dev.build-watcher.object.pending';
    assert.deepEqual(parseIncomingEvent({ type, data: ref }), { mode: 'pending', ref });
    assert.deepEqual(parseIncomingEvent({ type, data: JSON.stringify(ref) }), { mode: 'pending', ref });
    rejects({ type, data: { ...ref, uid: 'u-1' } }, /object.pending: unexpected field "uid": expected only \{apiVersion, kind, name, namespace\}/);
    rejects({ type, data: { ...ref, name: undefined } }, /object.pending.name: expected a non-empty string, got nothing/);
    rejects({ type, data: { ...ref, name: '../../secrets' } }, /expected a Kubernetes object name/);
    rejects({ type, data: { ...ref, apiVersion: 'v1', kind: 'Secret' } }, /unsupported object v1\/Secret/, 422);
    rejects({ type, data: '{"kind": "Bu' }, /malformed JSON/);
    rejects({ type, data: [ref] }, /expected \{apiVersion, kind, name, namespace\}, got an array/);
    rejects({ type }, /expected \{apiVersion, kind, name, namespace\}/);
  });
});
