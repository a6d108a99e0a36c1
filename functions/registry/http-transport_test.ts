import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createAgents, send } from './http-transport.js';
import type { Agents } from './http-transport.js';

const closed = (stream: Readable): Promise<void> => new Promise((resolve) => stream.once('close', () => resolve()));

describe('send', () => {
  let server: Server;
  let agents: Agents;
  let url: URL;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(201).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`);
    agents = await createAgents({}, 2);
  });
  after(async () => {
    agents.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const exchange = (body: Readable) => ({
    method: 'PUT', url, headers: { 'content-length': '5' }, body, agents, idleTimeoutMs: 5_000, signal: new AbortController().signal,
  });

  it('streams a body', async () => {
    const res = await send(exchange(Readable.from([Buffer.from('hello')])));
    res.resume();
    assert.equal(res.statusCode, 201);
  });

  it('fails at once with the error of a body that failed before its request started', async () => {
    const body = new Readable({ read() {} });
    body.on('error', () => undefined);
    body.destroy(new Error('blob does not match its digest'));
    await closed(body);
    const started = Date.now();
    await assert.rejects(send(exchange(body)), /blob does not match its digest/);
    assert.ok(Date.now() - started < 2_000, 'did not wait for the idle timeout');
  });

  it('fails at once for a body closed before its request started', async () => {
    const body = new Readable({ read() {} });
    body.destroy();
    await closed(body);
    await assert.rejects(send(exchange(body)), /closed before it was sent/);
  });
});
