import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisAuthStore } from '../src/redis.js';
import { authStoreSuite } from '../src/testing.js';

const keyPrefix = `test:auth:${randomUUID().slice(0, 8)}:`;
let client: Redis;
beforeAll(async () => {
  await requireServer('redis');
  client = new Redis(testServers.redis);
});
afterAll(async () => {
  const keys = await client.keys(`${keyPrefix}*`);
  if (keys.length > 0) await client.del(...keys);
  client.disconnect();
});

authStoreSuite('redis', { create: () => redisAuthStore({ url: testServers.redis, keyPrefix }) });

describe('redisAuthStore', () => {
  it('leaves a client it was given open', async () => {
    const store = redisAuthStore({ client, keyPrefix });
    await store.isRevoked('x');
    await store.close();
    expect(await client.ping()).toBe('PONG');
  });

  it('answers unavailable when the server is unreachable', async () => {
    const store = redisAuthStore({ url: 'redis://127.0.0.1:1', timeout: 300 });
    await expect(store.isRevoked('x')).rejects.toMatchObject({ code: 'unavailable' });
    await store.close();
  });
});
