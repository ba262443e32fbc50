import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent, type ClientRequest, request } from 'node:http';
import { type CallContext, createService, isMicroError, MicroError, memoryRegistry } from '@micro-os/core';
import { httpTransport } from '@micro-os/core/http';
import { transportSuite } from '@micro-os/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeResponse } from '../src/wire.js';

transportSuite('http', { create: () => httpTransport() });
transportSuite('http with a 100 kB limit', {
  create: () => httpTransport({ maxMessageSize: 100_000 }),
  maxMessageSize: 100_000,
});

interface RawReply {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

/** POSTs raw bytes with plain node:http, as a foreign or broken peer would. */
function post(address: string, body: Uint8Array, path = '/micro/rpc'): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request(`${address}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-micro-frame', 'content-length': body.byteLength },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers['content-type'],
          body: Buffer.concat(chunks),
        }),
      );
    });
    req.end(body);
  });
}

/** Reads the error out of a response frame. */
function frameError(frame: Buffer): unknown {
  return decodeResponse(frame).error;
}

describe('createService over the http transport', () => {
  const name = `http-svc-${randomUUID().slice(0, 8)}`;
  const registry = memoryRegistry();
  const server = createService({ name, registry, transport: httpTransport() });
  const client = createService({ name: `${name}-client`, registry, transport: httpTransport() });
  const slow: { aborted: boolean; reason?: unknown } = { aborted: false };
  let address: string;

  beforeAll(async () => {
    server.handle('Greeter.Hello', async (req: { name: string }) => ({ greeting: `hello ${req.name}` }));
    server.handle('Greeter.Fail', async () => {
      throw new MicroError('failed_precondition', 'greeter is closed', {
        details: { opensAt: '09:00', days: [1, 2] },
      });
    });
    server.handle('Greeter.Slow', async (_req: unknown, context: CallContext) => {
      await new Promise<void>((resolve) => {
        context.signal.addEventListener('abort', () => {
          slow.aborted = true;
          slow.reason = context.signal.reason;
          resolve();
        });
      });
      return 'late';
    });
    await server.start();
    address = server.server.address as string;
  });
  afterAll(async () => {
    await client.stop();
    await server.stop();
    await registry.close();
  });

  it('advertises an http://127.0.0.1:<port> address', () => {
    expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('calls an endpoint and gets its response', async () => {
    await expect(client.call(name, 'Greeter.Hello', { name: 'ada' })).resolves.toEqual({
      greeting: 'hello ada',
    });
  });

  it('round-trips a MicroError with code, message and details', async () => {
    const err = await client.call(name, 'Greeter.Fail', {}).catch((e: unknown) => e);
    expect(isMicroError(err, 'failed_precondition')).toBe(true);
    expect((err as MicroError).message).toBe('greeter is closed');
    expect((err as MicroError).details).toEqual({ opensAt: '09:00', days: [1, 2] });
  });

  it('answers a malformed frame with invalid_argument and keeps serving', async () => {
    for (const garbage of [
      Buffer.from([0, 0]),
      Buffer.from([0, 0, 0, 200, 1, 2]),
      Buffer.from('\0\0\0\u0003{x}'),
    ]) {
      const reply = await post(address, garbage);
      expect(reply.status).toBe(400);
      expect(reply.contentType).toBe('application/x-micro-frame');
      expect(frameError(reply.body)).toMatchObject({ code: 'invalid_argument' });
    }
    const wrongHeader = Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('{}')]);
    expect(frameError((await post(address, wrongHeader)).body)).toMatchObject({ code: 'invalid_argument' });
    expect(frameError((await post(address, Buffer.alloc(0), '/other')).body)).toMatchObject({
      code: 'not_found',
    });
    await expect(client.call(name, 'Greeter.Hello', { name: 'bob' })).resolves.toEqual({
      greeting: 'hello bob',
    });
  });

  it('answers an oversized body with resource_exhausted and keeps serving', async () => {
    const reply = await post(address, Buffer.alloc(5 * 1024 * 1024, 7));
    expect(reply.status).toBe(413);
    expect(frameError(reply.body)).toMatchObject({ code: 'resource_exhausted' });
    await expect(client.call(name, 'Greeter.Hello', { name: 'cy' })).resolves.toEqual({
      greeting: 'hello cy',
    });
  });

  it("a caller's abort mid-call reaches the handler's context.signal", async () => {
    const controller = new AbortController();
    const pending = client
      .call(name, 'Greeter.Slow', {}, { signal: controller.signal })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    const outcome = await pending;
    expect(isMicroError(outcome, 'aborted'), String(outcome)).toBe(true);
    const end = Date.now() + 3000;
    while (!slow.aborted && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(slow.aborted).toBe(true);
    expect(isMicroError(slow.reason, 'aborted')).toBe(true);
  });

  // Last: the client's selector marks the node bad after this retryable failure.
  it('refuses to send an oversized request: resource_exhausted', async () => {
    const err = await client
      .call(name, 'Greeter.Hello', { name: 'x'.repeat(4 * 1024 * 1024) }, { retries: 0 })
      .catch((e: unknown) => e);
    expect(isMicroError(err, 'resource_exhausted')).toBe(true);
  });
});

describe('httpTransport listener close', () => {
  it('aborts running handlers with unavailable, answers them, and stops accepting', async () => {
    const server = httpTransport();
    const client = httpTransport();
    let reason: unknown;
    const listener = await server.listen(
      (_req, { signal }) =>
        new Promise((resolve) => {
          signal.addEventListener('abort', () => {
            reason = signal.reason;
            resolve({
              contentType: '',
              metadata: {},
              body: new Uint8Array(0),
              error: (signal.reason as MicroError).toJSON(),
            });
          });
        }),
    );
    const request = { service: 's', endpoint: 'E.C', contentType: '', metadata: {}, body: new Uint8Array(0) };
    const pending = client.request(listener.address, request, { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await listener.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(isMicroError(reason, 'unavailable')).toBe(true);
    expect((await pending).error).toMatchObject({ code: 'unavailable' });
    const err = await client.request(listener.address, request, { timeout: 2000 }).catch((e: unknown) => e);
    expect(isMicroError(err, 'unavailable')).toBe(true);
    await client.close();
    await server.close();
  });
});

describe('httpTransport handler signals', () => {
  it("cancelling one request never aborts an earlier request's signal on the same connection", async () => {
    const server = httpTransport();
    const client = httpTransport({ maxSockets: 1 });
    const firstAborted: unknown[] = [];
    let secondAborted = false;
    const listener = await server.listen(async (req, { signal }) => {
      if (req.endpoint === 'First.Call') {
        signal.addEventListener('abort', () => firstAborted.push(signal.reason));
        return { contentType: '', metadata: {}, body: new Uint8Array(0) };
      }
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      secondAborted = true;
      return { contentType: '', metadata: {}, body: new Uint8Array(0) };
    });
    const request = (endpoint: string) => ({
      service: 's',
      endpoint,
      contentType: '',
      metadata: {},
      body: new Uint8Array(0),
    });
    await client.request(listener.address, request('First.Call'));
    const controller = new AbortController();
    const second = client
      .request(listener.address, request('Second.Call'), { signal: controller.signal })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    expect(isMicroError(await second, 'aborted')).toBe(true);
    const end = Date.now() + 3000;
    while (!secondAborted && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(secondAborted).toBe(true);
    expect(firstAborted).toEqual([]);
    await client.close();
    await server.close();
  });
});

describe('httpTransport connections and limits', () => {
  it('reuses one keep-alive connection for sequential requests', async () => {
    const agent = new Agent({ keepAlive: true });
    const server = httpTransport();
    const client = httpTransport({ agent });
    const listener = await server.listen(async (req) => ({ contentType: '', metadata: {}, body: req.body }));
    const request = { service: 's', endpoint: 'E.C', contentType: '', metadata: {}, body: new Uint8Array(1) };
    const sockets = new Set<unknown>();
    agent.on('free', (socket) => sockets.add(socket));
    for (let i = 0; i < 50; i++) await client.request(listener.address, request);
    expect(sockets.size).toBe(1);
    await client.close();
    await server.close();
    agent.destroy();
  });

  it('answers an oversized response with resource_exhausted instead of sending it', async () => {
    const server = httpTransport({ maxMessageSize: 100_000 });
    const client = httpTransport({ maxMessageSize: 100_000 });
    const listener = await server.listen(async () => ({
      contentType: '',
      metadata: {},
      body: new Uint8Array(200_000),
    }));
    const request = { service: 's', endpoint: 'E.C', contentType: '', metadata: {}, body: new Uint8Array(0) };
    const response = await client.request(listener.address, request);
    expect(response.error).toMatchObject({
      code: 'resource_exhausted',
      details: { size: 200_000, max: 100_000 },
    });
    await client.close();
    await server.close();
  });
});

describe('httpTransport options', () => {
  it('rejects invalid options with invalid_argument naming the value', () => {
    expect(() => httpTransport({ port: 70_000 })).toThrow(/port .*70000/);
    expect(() => httpTransport({ maxMessageSize: 0 })).toThrow(/maxMessageSize/);
    expect(() => httpTransport({ maxSockets: -1 })).toThrow(/maxSockets/);
  });

  it('fails with already_exists when the port is taken', async () => {
    const a = httpTransport();
    const b = httpTransport();
    const listener = await a.listen(async (req) => ({ contentType: '', metadata: {}, body: req.body }));
    const err = await b
      .listen(async (req) => ({ contentType: '', metadata: {}, body: req.body }), {
        address: listener.address,
      })
      .catch((e: unknown) => e);
    expect(isMicroError(err, 'already_exists')).toBe(true);
    await a.close();
    await b.close();
  });
});

describe('httpTransport batches', () => {
  const text = (body: Uint8Array): string => Buffer.from(body).toString('utf8');
  const call = (n: number, body: Uint8Array = Buffer.from(`req-${n}`)) => ({
    service: 's',
    endpoint: 'Batch.Echo',
    contentType: 'text/plain',
    metadata: { n: String(n) },
    body,
  });

  /** Counts the POSTs the client sends to one address (node:http's diagnostics channel). */
  function countPosts(address: string): { count: () => number; stop: () => void } {
    const port = Number(new URL(address).port);
    let count = 0;
    const onStart = (message: unknown): void => {
      const { request: req } = message as { request: ClientRequest };
      if (req.path === '/micro/rpc' && (req.getHeader('host') ?? '').toString().endsWith(`:${port}`)) count++;
    };
    subscribe('http.client.request.start', onStart);
    return { count: () => count, stop: () => unsubscribe('http.client.request.start', onStart) };
  }

  it('sends the requests of one tick in few POSTs (answers and slow calls: the transport suite)', async () => {
    const server = httpTransport();
    const client = httpTransport();
    const listener = await server.listen((req) => ({ contentType: '', metadata: {}, body: req.body }));
    const posts = countPosts(listener.address);
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, n) => client.request(listener.address, call(n), { timeout: 5000 })),
      );
      expect(results.map((res) => text(res.body))).toEqual(Array.from({ length: 200 }, (_, n) => `req-${n}`));
      expect(posts.count()).toBeLessThan(10);
    } finally {
      posts.stop();
      await client.close();
      await server.close();
    }
  });

  it('sends large requests on POSTs of their own and fails a batch to a dead address with unavailable', async () => {
    const server = httpTransport();
    const client = httpTransport();
    const listener = await server.listen((req) => ({ contentType: '', metadata: {}, body: req.body }));
    const posts = countPosts(listener.address);
    try {
      const body = (n: number) => Buffer.alloc(40 * 1024, n);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, n) => client.request(listener.address, call(n, body(n)))),
      );
      results.forEach((res, n) => {
        expect(Buffer.from(res.body).equals(body(n))).toBe(true);
      });
      expect(posts.count()).toBe(6);
      await listener.close();
      const failed = await Promise.allSettled(
        Array.from({ length: 5 }, (_, n) => client.request(listener.address, call(n), { timeout: 2000 })),
      );
      for (const r of failed)
        expect(r).toMatchObject({ status: 'rejected', reason: { code: 'unavailable' } });
    } finally {
      posts.stop();
      await client.close();
      await server.close();
    }
  });

  it('fails the calls still queued for a batch with unavailable when the transport closes', async () => {
    const server = httpTransport();
    const client = httpTransport();
    const listener = await server.listen(
      () =>
        new Promise((resolve) =>
          setTimeout(() => resolve({ contentType: '', metadata: {}, body: new Uint8Array(0) }), 50),
        ),
    );
    try {
      const first = client.request(listener.address, call(0), { timeout: 2000 });
      const queued = [1, 2, 3].map((n) => client.request(listener.address, call(n), { timeout: 2000 }));
      const closing = client.close();
      for (const r of await Promise.allSettled(queued))
        expect(r).toMatchObject({ status: 'rejected', reason: { code: 'unavailable' } });
      await Promise.allSettled([first]);
      await closing;
    } finally {
      await server.close();
    }
  });
});
