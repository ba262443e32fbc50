import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createService, isMicroError, MicroError, memoryRegistry } from '@micro-os/core';
import { natsBroker, natsTransport } from '@micro-os/core/nats';
import { brokerSuite, requireServer, testServers, transportSuite } from '@micro-os/core/testing';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

beforeAll(async () => {
  await requireServer('nats');
});

const servers = testServers.nats;
transportSuite('nats', { create: () => natsTransport({ servers }) });
brokerSuite('nats', { create: () => natsBroker({ servers, onError: () => undefined }) });

describe('nats transport and broker under a service', () => {
  it('round-trips a call, a handler error with its details, and a published message', async () => {
    const registry = memoryRegistry();
    const name = `users-${randomUUID().slice(0, 8)}`;
    const topic = `${name}.created`;
    const server = createService({
      name,
      registry,
      transport: natsTransport({ servers }),
      broker: natsBroker({ servers }),
    });
    const seen: unknown[] = [];
    server.handle<{ id: number }, { id: number; name: string }>('Users.Get', (req) => {
      if (req.id !== 1)
        throw new MicroError('not_found', `user ${req.id} not found`, { details: { id: req.id } });
      return { id: 1, name: 'ada' };
    });
    server.subscribe(topic, (message) => void seen.push(message));
    await server.start();
    const caller = createService({
      name: 'caller',
      registry,
      transport: natsTransport({ servers }),
      broker: natsBroker({ servers }),
    });
    try {
      expect(await caller.call(name, 'Users.Get', { id: 1 })).toEqual({ id: 1, name: 'ada' });
      const err = await caller.call(name, 'Users.Get', { id: 7 }).catch((e: unknown) => e);
      expect(isMicroError(err, 'not_found')).toBe(true);
      expect(err).toMatchObject({ message: 'user 7 not found', details: { id: 7 } });
      await caller.publish(topic, { id: 1 });
      await expect.poll(() => seen, { timeout: 3000 }).toEqual([{ id: 1 }]);
    } finally {
      await caller.stop();
      await caller.transport.close();
      await caller.broker.close();
      await server.stop();
      await server.transport.close();
      await server.broker.close();
    }
  });

  it("a caller's abort aborts the handler's ctx.signal in the other service", async () => {
    const registry = memoryRegistry();
    const name = `cancel-${randomUUID().slice(0, 8)}`;
    const server = createService({ name, registry, transport: natsTransport({ servers }) });
    let started = false;
    let reason: unknown;
    server.handle('Slow.Wait', (_req, ctx) => {
      started = true;
      return new Promise((resolve) =>
        ctx.signal.addEventListener('abort', () => {
          reason = ctx.signal.reason;
          resolve('stopped');
        }),
      );
    });
    await server.start();
    const caller = createService({ name: 'caller', registry, transport: natsTransport({ servers }) });
    try {
      const controller = new AbortController();
      const call = caller.call(name, 'Slow.Wait', {}, { signal: controller.signal, timeout: 10_000 });
      await expect.poll(() => started, { timeout: 3000 }).toBe(true);
      controller.abort();
      await expect(call).rejects.toMatchObject({ code: 'aborted' });
      await expect.poll(() => reason, { timeout: 3000 }).toMatchObject({ code: 'aborted' });
    } finally {
      await caller.stop();
      await caller.transport.close();
      await server.stop();
      await server.transport.close();
    }
  });

  it('answers an oversized response with resource_exhausted, and aborts handlers when the listener closes', async () => {
    const server = natsTransport({ servers, maxMessageSize: 1000 });
    const client = natsTransport({ servers, maxMessageSize: 1000 });
    const request = { service: 's', endpoint: 'E', contentType: '', metadata: {}, body: new Uint8Array(0) };
    let aborted: unknown;
    const big = await server.listen(async () => ({
      contentType: '',
      metadata: {},
      body: new Uint8Array(1001),
    }));
    const slow = await server.listen(
      (_req, { signal }) =>
        new Promise((resolve) =>
          signal.addEventListener('abort', () => {
            aborted = signal.reason;
            resolve({ contentType: '', metadata: {}, body: new Uint8Array(0) });
          }),
        ),
    );
    try {
      const res = await client.request(big.address, request, { timeout: 2000 });
      expect(res.error).toMatchObject({ code: 'resource_exhausted', details: { size: 1001, max: 1000 } });
      const pendingCall = client.request(slow.address, request, { timeout: 2000 });
      await new Promise((r) => setTimeout(r, 50));
      await slow.close();
      await pendingCall;
      expect(isMicroError(aborted, 'unavailable')).toBe(true);
    } finally {
      await big.close();
      await client.close();
      await server.close();
    }
  });

  it('listens on a given address and leaves a connection it was given open on close', async () => {
    const connection = await connect({ servers });
    const transport = natsTransport({ connection });
    const broker = natsBroker({ connection });
    const address = `nats:micro.rpc.fixed-${randomUUID()}`;
    const listener = await transport.listen(
      async (req) => ({ contentType: '', metadata: {}, body: req.body }),
      {
        address,
      },
    );
    expect(listener.address).toBe(address);
    const request = { service: 's', endpoint: 'E', contentType: '', metadata: {}, body: new Uint8Array(2) };
    await expect(transport.request('http://127.0.0.1:1', request)).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    expect((await transport.request(listener.address, request, { timeout: 2000 })).body).toHaveLength(2);
    await broker.publish('given', { contentType: '', metadata: {}, body: new Uint8Array(0) });
    await transport.close();
    await broker.close();
    expect(connection.isClosed()).toBe(false);
    await connection.close();
  });

  it('answers unavailable on a given connection that was closed', async () => {
    const connection = await connect({ servers });
    await connection.close();
    const transport = natsTransport({ connection });
    const broker = natsBroker({ connection });
    const request = { service: 's', endpoint: 'E', contentType: '', metadata: {}, body: new Uint8Array(0) };
    const message = { contentType: '', metadata: {}, body: new Uint8Array(0) };
    await expect(transport.listen(async () => message)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(transport.request('nats:micro.rpc.x', request)).rejects.toMatchObject({
      code: 'unavailable',
    });
    await expect(broker.subscribe('closed', () => undefined)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(broker.publish('closed', message)).rejects.toMatchObject({ code: 'unavailable' });
    await transport.close();
    await broker.close();
  });

  it('rejects bad options in the factory with invalid_argument', () => {
    expect(() => natsTransport({ maxMessageSize: 0 })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    expect(() => natsTransport({ subjectPrefix: 'a.*' })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    expect(() => natsBroker({ servers: [] })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('answers unavailable when the server cannot be reached', async () => {
    const transport = natsTransport({ servers: 'nats://127.0.0.1:1' });
    const broker = natsBroker({ servers: 'nats://127.0.0.1:1' });
    const request = { service: 's', endpoint: 'E', contentType: '', metadata: {}, body: new Uint8Array(0) };
    await expect(transport.request('nats:micro.rpc.x', request)).rejects.toMatchObject({
      code: 'unavailable',
    });
    await expect(
      broker.publish('t', { contentType: '', metadata: {}, body: new Uint8Array(0) }),
    ).rejects.toMatchObject({ code: 'unavailable' });
    await transport.close();
    await broker.close();
  });
});

describe('nats transport batches', () => {
  const text = (body: Uint8Array): string => Buffer.from(body).toString('utf8');
  const request = (n: number, extra: { body?: Uint8Array; timeout?: number } = {}) => ({
    service: 's',
    endpoint: 'Batch.Echo',
    contentType: 'text/plain',
    metadata: { n: String(n) },
    body: extra.body ?? Buffer.from(`req-${n}`),
  });

  /** Counts the messages published to a listener's subject, on a connection of the test's own. */
  async function countMessages(
    address: string,
  ): Promise<{ count: () => number; close: () => Promise<void> }> {
    const nc = await connect({ servers });
    let count = 0;
    nc.subscribe(address.slice('nats:'.length), { callback: () => void count++ });
    await nc.flush();
    return { count: () => count, close: () => nc.close() };
  }

  it('sends the requests of one tick as few messages (answers: the transport suite)', async () => {
    const server = natsTransport({ servers });
    const client = natsTransport({ servers });
    const listener = await server.listen((req) => ({ contentType: '', metadata: {}, body: req.body }));
    const seen = await countMessages(listener.address);
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, n) =>
          client.request(listener.address, request(n), { timeout: 5000 }),
        ),
      );
      expect(results.map((res) => text(res.body))).toEqual(Array.from({ length: 200 }, (_, n) => `req-${n}`));
      expect(seen.count()).toBeLessThan(10);
      // A lone request afterwards still goes as a plain message.
      expect(text((await client.request(listener.address, request(1))).body)).toBe('req-1');
    } finally {
      await seen.close();
      await client.close();
      await server.close();
    }
  });

  it('fails every member of a batch sent to a subject nobody listens on with unavailable', async () => {
    const client = natsTransport({ servers });
    try {
      const address = `nats:micro.rpc.nobody-${randomUUID()}`;
      const started = Date.now();
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, n) => client.request(address, request(n), { timeout: 5000 })),
      );
      for (const r of results)
        expect(r).toMatchObject({ status: 'rejected', reason: { code: 'unavailable' } });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await client.close();
    }
  });

  it('splits requests and answers too large to share one message', async () => {
    const server = natsTransport({ servers });
    const client = natsTransport({ servers });
    const listener = await server.listen((req) => ({ contentType: '', metadata: {}, body: req.body }));
    const seen = await countMessages(listener.address);
    try {
      const body = (n: number) => Buffer.alloc(40 * 1024, n);
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, n) => client.request(listener.address, request(n, { body: body(n) }))),
      );
      results.forEach((res, n) => {
        expect(Buffer.from(res.body).equals(body(n))).toBe(true);
      });
      expect(seen.count()).toBe(6);
    } finally {
      await seen.close();
      await client.close();
      await server.close();
    }
  });
});

describe('a NATS server that dies', () => {
  let nats: ChildProcess | undefined;
  const unhandled: unknown[] = [];
  const record = (error: unknown): void => void unhandled.push(error);
  beforeAll(() => {
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
  });
  afterAll(() => {
    process.off('unhandledRejection', record);
    process.off('uncaughtException', record);
    nats?.kill('SIGKILL');
  });

  it('fails calls with a typed error and crashes nothing', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    nats = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    const url = `nats://127.0.0.1:${port}`;
    await expect.poll(() => reachable(url), { timeout: 5000, interval: 50 }).toBe(true);
    const transport = natsTransport({ servers: url });
    const broker = natsBroker({ servers: url });
    const listener = await transport.listen(async (req) => {
      if (req.endpoint === 'Slow') await new Promise((r) => setTimeout(r, 3000));
      return { contentType: '', metadata: {}, body: req.body };
    });
    await broker.subscribe('dies', () => undefined);
    const request = { service: 's', endpoint: 'E', contentType: '', metadata: {}, body: new Uint8Array(1) };
    const echoed = await transport.request(listener.address, request, { timeout: 1000 });
    expect([...echoed.body]).toEqual([0]);
    const inFlight = transport
      .request(listener.address, { ...request, endpoint: 'Slow' }, { timeout: 10_000 })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));

    const exited = new Promise((r) => nats?.once('exit', r));
    const killed = Date.now();
    nats.kill('SIGKILL');
    // A call in flight when the connection drops fails at once, not at its 10 s deadline.
    expect(isMicroError(await inFlight, 'unavailable')).toBe(true);
    expect(Date.now() - killed).toBeLessThan(2000);
    await exited;
    const err = await transport
      .request(listener.address, request, { timeout: 1000 })
      .catch((e: unknown) => e);
    expect(isMicroError(err, 'unavailable')).toBe(true);
    // The broker's own connection notices the loss too; from then on publishing answers unavailable.
    const publishing = (): Promise<unknown> =>
      broker
        .publish('dies', { contentType: '', metadata: {}, body: new Uint8Array(0) })
        .catch((e: unknown) => e);
    await expect.poll(publishing, { timeout: 2000, interval: 20 }).toMatchObject({ code: 'unavailable' });
    await listener.close();
    await transport.close();
    await broker.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(unhandled).toEqual([]);
  });
});

async function reachable(url: string): Promise<boolean> {
  const probe = natsBroker({ servers: url });
  try {
    await probe.publish('probe', { contentType: '', metadata: {}, body: new Uint8Array(0) });
    return true;
  } catch {
    return false;
  } finally {
    await probe.close();
  }
}
