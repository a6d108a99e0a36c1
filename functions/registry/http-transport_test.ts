import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAgents, send } from './http-transport.js';
import type { Agents } from './http-transport.js';
import type { BodyWriter } from './blob-pump.js';

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

  const exchange = (body: Buffer | BodyWriter) => ({
    method: 'PUT', url, headers: { 'content-length': '5' }, body, agents, idleTimeoutMs: 5_000, signal: new AbortController().signal,
  });

  it('sends a Buffer body', async () => {
    const res = await send(exchange(Buffer.from('hello')));
    res.resume();
    assert.equal(res.statusCode, 201);
  });

  it('lets a body writer write the body', async () => {
    const res = await send(exchange((request) => {
      request.write(Buffer.from('hel'));
      request.end(Buffer.from('lo'));
    }));
    res.resume();
    assert.equal(res.statusCode, 201);
  });

  it('fails at once with the error a body writer destroys its request with', async () => {
    const started = Date.now();
    await assert.rejects(send(exchange((request) => request.destroy(new Error('blob does not match its digest')))), /blob does not match its digest/);
    assert.ok(Date.now() - started < 2_000, 'did not wait for the idle timeout');
  });
});
