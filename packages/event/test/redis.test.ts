import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { redisEvents } from '../src/redis.js';
import { eventSuite } from '../src/testing.js';

const namespace = `test_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  await requireServer('redis');
});
afterAll(async () => {
  const client = new Redis(testServers.redis);
  const keys = await client.keys(`micro:events:{${namespace}}:*`);
  if (keys.length > 0) await client.del(...keys);
  client.disconnect();
});

eventSuite('redis', {
  create: () => redisEvents({ url: testServers.redis, namespace }),
  invalidFactories: ['a.b', 'a*', 'a>', 'a/b', ''].map((ns) => () => redisEvents({ namespace: ns })),
});
