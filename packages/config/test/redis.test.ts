import { randomUUID } from 'node:crypto';
import { type RedisWatchMode, redisSource } from '@micro-os/config/redis';
import { configSourceSuite } from '@micro-os/config/testing';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect } from 'vitest';

let redis: Redis;
beforeAll(async () => {
  await requireServer('redis');
  redis = new Redis(testServers.redis);
});
afterAll(async () => {
  await redis?.quit();
});

const modes: [RedisWatchMode, string][] = [
  ['auto', 'a plain SET, seen through keyspace notifications'],
  ['pubsub', 'write() publishing on the key channel'],
  ['poll', 'a plain SET, seen by polling'],
];
configSourceSuite('redis (given client, left open)', {
  create: () => redisSource({ client: redis, key: `micro-config-test:${randomUUID()}` }),
  set: async (source, doc) => {
    await redis.set(source.key, JSON.stringify(doc));
    expect(redis.status).toBe('ready');
  },
  destroy: async (source) => {
    await redis.del(source.key);
  },
});

for (const [watch, how] of modes) {
  configSourceSuite(`redis (${watch}: ${how})`, {
    create: () => redisSource({ url: testServers.redis, key: `micro-config-test:${randomUUID()}`, watch }),
    set: async (source, doc) => {
      if (watch === 'pubsub') await source.write(doc);
      else await redis.set(source.key, JSON.stringify(doc));
    },
    destroy: async (source) => {
      await redis.del(source.key);
    },
  });
}
