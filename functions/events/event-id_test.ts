/** The id recipe the README states, checked against a value computed by hand, and what makes two facts differ. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { eventId } from './event-id.js';

const fact = { type: 'dev.build-watcher.image.built', subject: '/apis/build.openshift.io/v1/namespaces/ns/builds/app-1', uid: 'u-1', facts: [[['sha256:aa', '']]] };

describe('eventId', () => {
  it('is the first 32 hex digits of SHA-256 over JSON.stringify([type, subject, uid, ...facts]), as the README states', () => {
    const canonical = '["dev.build-watcher.image.built","/apis/build.openshift.io/v1/namespaces/ns/builds/app-1","u-1",[["sha256:aa",""]]]';
    assert.equal(eventId(fact), createHash('sha256').update(canonical).digest('hex').slice(0, 32));
    assert.match(eventId(fact), /^[0-9a-f]{32}$/);
  });

  it('is the same for the same fact, and differs with the type, the object, its uid or any fact', () => {
    assert.equal(eventId({ ...fact, facts: [[['sha256:aa', '']]] }), eventId(fact));
    const others = [{ ...fact, type: 'dev.build-watcher.analysis.submitted' }, { ...fact, subject: `${fact.subject}x` }, { ...fact, uid: 'u-2' },
      { ...fact, facts: [[['sha256:ab', '']]] }, { ...fact, facts: [[['sha256:aa', 'sha256:bb']]] }];
    assert.equal(new Set([eventId(fact), ...others.map(eventId)]).size, others.length + 1);
  });
});
