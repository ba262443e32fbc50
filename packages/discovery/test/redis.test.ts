import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { redisRegistry } from '../src/redis.js';
import { discoverySuite } from '../src/testing.js';

const prefix = `test:registry:${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  await requireServer('redis');
});
afterAll(async () => {
  const client = new Redis(testServers.redis);
  const keys = await client.keys(`${prefix}:*`);
  if (keys.length > 0) await client.del(...keys);
  client.disconnect();
});

discoverySuite('redis', { create: () => redisRegistry({ url: testServers.redis, prefix }) });
