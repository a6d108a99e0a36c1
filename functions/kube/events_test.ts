import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { BuildWatcherError } from '../errors.js';
import { kubeApiOver } from './api.js';
import type { EventReason } from './events.js';
import { kubeEventRecorder, type EventRecorder } from './store.js';

const BUILD = { apiVersion: 'build.openshift.io/v1', kind: 'Build', namespace: 'team', name: 'app-1', uid: 'b1a2c3d4' };
const SUBMITTED: EventReason = { type: 'Normal', reason: 'AnalysisSubmitted', message: 'submitted to Thoth' };
const cancelled = (error: unknown) => error instanceof BuildWatcherError && error.kind === 'transient' && /cancelled/.test(error.message);

describe('Kubernetes Events', () => {
  let server: http.Server;
  /** Every POST the API server stand-in received, its body parsed. */
  let received: { path: string; body: Record<string, unknown> }[] = [];
  /** Set, the stand-in keeps the request open and calls this instead of answering. */
  let hold: (() => void) | undefined;
  let recorder: EventRecorder;

  before(async () => {
    server = http.createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString()));
      request.on('end', () => {
        received.push({ path: request.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
        if (hold !== undefined) return hold();
        response.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const api = kubeApiOver({ server: new URL(`http://127.0.0.1:${port}`), contextNamespace: undefined, userToken: undefined, authorize: async () => {} });
    recorder = kubeEventRecorder(async () => api, 'build-watcher-7f9c-x2x4z');
  });

  beforeEach(() => {
    received = [];
    hold = undefined;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('posts one Event on the object, naming this process as the reporting instance', async () => {
    await recorder.record(BUILD, SUBMITTED);
    assert.equal(received.length, 1);
    assert.equal(received[0]?.path, '/api/v1/namespaces/team/events');
    const body = received[0]?.body;
    assert.deepEqual(body?.['involvedObject'], { apiVersion: 'build.openshift.io/v1', kind: 'Build', name: 'app-1', namespace: 'team', uid: 'b1a2c3d4' });
    assert.deepEqual([body?.['reason'], body?.['reportingInstance']], ['AnalysisSubmitted', 'build-watcher-7f9c-x2x4z']);
  });

  it('sends nothing once its signal is aborted: the API server never sees the POST', async () => {
    await assert.rejects(recorder.record(BUILD, SUBMITTED, AbortSignal.abort()), cancelled);
    // Rejected, its socket is gone; the stand-in, answering the next Event, has seen that one only.
    await recorder.record(BUILD, { ...SUBMITTED, reason: 'AfterTheAbort' });
    assert.deepEqual(received.map(({ body }) => body['reason']), ['AfterTheAbort']);
  });

  it('gives up a POST the API server is slow to answer when its signal is aborted', async () => {
    const controller = new AbortController();
    hold = () => controller.abort();
    await assert.rejects(recorder.record(BUILD, SUBMITTED, controller.signal), cancelled);
    assert.equal(received.length, 1);
  });
});
