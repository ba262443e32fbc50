import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { isMicroError, MicroError } from '@micro-os/core';
import { redisBroker } from '@micro-os/core/redis';
import { brokerSuite, requireServer, testServers } from '@micro-os/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

beforeAll(async () => {
  await requireServer('redis');
});

brokerSuite('redis', { create: () => redisBroker({ url: testServers.redis, onError: () => undefined }) });

/** A loopback port on which nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const message = (text: string) => ({
  contentType: 'text/plain',
  metadata: {},
  body: new TextEncoder().encode(text),
});

describe('redisBroker', () => {
  const client = new Redis(testServers.redis, { lazyConnect: true });
  client.on('error', () => undefined);
  afterAll(async () => {
    await client.quit();
  });

  it('rejects invalid options with invalid_argument naming the value', () => {
    expect(() => redisBroker({ maxMessageSize: -1 })).toThrow(/maxMessageSize/);
    expect(() => redisBroker({ claimTtl: 0 })).toThrow(/claimTtl/);
    expect(() => redisBroker({ client, url: testServers.redis })).toThrow(/either a client or a url/);
  });

  it('publishes through a given client and leaves it open on close', async () => {
    const broker = redisBroker({ client, onError: () => undefined });
    const topic = `given-${randomUUID().slice(0, 8)}`;
    const got: string[] = [];
    await broker.subscribe(topic, (m) => void got.push(new TextDecoder().decode(m.body)));
    await broker.publish(topic, message('hi'));
    const end = Date.now() + 3000;
    while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual(['hi']);
    await broker.close();
    await broker.close();
    expect(await client.ping()).toBe('PONG');
  });

  it('a dead Redis never crashes the process, and publish fails with unavailable in bounded time', async () => {
    const errors: unknown[] = [];
    const broker = redisBroker({
      url: `redis://127.0.0.1:${await closedPort()}`,
      onError: (e) => errors.push(e),
    });
    try {
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const err = await broker.publish('dead.topic', message('x')).catch((e: unknown) => e);
        expect(isMicroError(err, 'unavailable'), String(err)).toBe(true);
        expect(Date.now() - started).toBeLessThan(3000);
      }
      const err = await broker.subscribe('dead.topic', () => undefined).catch((e: unknown) => e);
      expect(isMicroError(err, 'unavailable'), String(err)).toBe(true);
      // Let ioredis retry a few times: each failure must land on our listener, not crash the process.
      await new Promise((r) => setTimeout(r, 300));
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((e) => isMicroError(e, 'unavailable'))).toBe(true);
    } finally {
      await broker.close();
    }
  });

  it('publish after close fails with unavailable', async () => {
    const broker = redisBroker({ url: testServers.redis });
    await broker.close();
    await expect(broker.publish('closed.topic', message('x'))).rejects.toBeInstanceOf(MicroError);
    await expect(broker.publish('closed.topic', message('x'))).rejects.toMatchObject({ code: 'unavailable' });
  });
});
