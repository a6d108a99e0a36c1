/** The stand-in's faults: each ends a request the way a real one can end. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../harness/wait.js';
import { STUB_VERSION, ThothStub } from './thoth-stub.js';

/** A log alone: nothing for the stand-in to inspect in a registry, so it is accepted. */
const LOG_ONLY = JSON.stringify({ build_log: { log: 'STEP 1/1: FROM scratch\n', apiversion: 'build.openshift.io/v1', kind: 'BuildLog', metadata: 'ns/app-1' } });

describe('ThothStub faults', () => {
  let thoth: ThothStub;
  before(async () => {
    thoth = await ThothStub.start();
  });
  after(() => thoth?.close());

  const submit = (signal?: AbortSignal) =>
    fetch(`${thoth.url}/api/v1/build-analysis`, {
      method: 'POST',
      body: LOG_ONLY,
      headers: { 'Content-Type': 'application/json' },
      ...(signal !== undefined ? { signal } : {}),
    });
  const until = (check: () => boolean, what: string) =>
    waitFor(async () => (check() ? true : undefined), { what, timeoutMs: 5_000, intervalMs: 5 });

  it('holds an accepted answer until released: the submission is recorded before anyone hears of it', async () => {
    const have = thoth.submissions.length;
    thoth.holdNext(1);
    let settled = false;
    const answer = submit().then((response) => {
      settled = true;
      return response;
    });
    await until(() => thoth.held === 1, 'the answer held');
    assert.equal(thoth.submissions.length, have + 1, 'accepted at once');
    assert.equal(settled, false, 'the caller has heard nothing');
    assert.equal(thoth.requests.at(-1)?.status, 202);
    assert.equal(thoth.releaseHeld(), 1);
    const response = await answer;
    assert.equal(response.status, 202);
    assert.deepEqual(await response.json(), thoth.submissions.at(-1)?.response);
    assert.equal(thoth.held, 0);
  });

  it('drops a held answer whose caller went away', async () => {
    thoth.holdNext(1);
    const controller = new AbortController();
    const answer = submit(controller.signal).catch((error: unknown) => error);
    await until(() => thoth.held === 1, 'the answer held');
    controller.abort();
    assert.ok((await answer) instanceof Error);
    await until(() => thoth.held === 0, 'the held answer dropped with its connection');
    assert.equal(thoth.releaseHeld(), 0);
  });

  it('resets the connection once the body is read, processing nothing', async () => {
    const have = thoth.submissions.length;
    thoth.resetNext(1);
    await assert.rejects(submit(), TypeError);
    assert.equal(thoth.requests.at(-1)?.status, 'reset');
    assert.equal(thoth.submissions.length, have, 'nothing accepted');
    assert.equal((await submit()).status, 202, 'the next request is served');
  });

  for (const status of [502, 504]) {
    it(`answers ${status} as the router in front does, processing nothing`, async () => {
      const have = thoth.submissions.length;
      thoth.failNext(1, { status });
      const response = await submit();
      assert.equal(response.status, status);
      assert.equal(response.headers.get('content-type'), 'text/html');
      assert.equal(response.headers.get('x-thoth-version'), null, 'the router is not Thoth');
      assert.match(await response.text(), new RegExp(`<h1>${status} `));
      assert.equal(thoth.submissions.length, have);
      const served = await submit();
      assert.equal(served.headers.get('x-thoth-version'), STUB_VERSION);
      await served.arrayBuffer();
    });
  }
});
