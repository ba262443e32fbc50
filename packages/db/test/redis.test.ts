import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisDB } from '../src/redis.js';
import { dbSuite } from '../src/testing.js';

const keyPrefix = `test-db-${randomUUID().slice(0, 8)}:`;
let client: Redis;
beforeAll(async () => {
  await requireServer('redis');
  client = new Redis(testServers.redis);
});
afterAll(async () => {
  const left = await client.keys(`${keyPrefix}*`);
  if (left.length > 0) await client.unlink(...left);
  await client.quit();
});

dbSuite('redis', {
  create: () => redisDB({ url: testServers.redis, keyPrefix, namespace: randomUUID().slice(0, 8) }),
});

describe('redisDB', () => {
  it('keeps every key of a db in one hash slot and drops index entries with the record', async () => {
    const namespace = randomUUID().slice(0, 8);
    const db = redisDB({ client, keyPrefix, namespace });
    await db.create({ id: 'a', metadata: { color: 'red', size: 1 } });
    await db.update({ id: 'a', version: 1, metadata: { color: 'blue' } });
    const made = await client.keys(`${keyPrefix}{${namespace}}:*`);
    expect(made.every((key) => key.startsWith(`${keyPrefix}{${namespace}}:`))).toBe(true);
    expect(made.filter((key) => key.includes(':i:'))).toEqual([
      `${keyPrefix}{${namespace}}:i:["color","blue"]`,
    ]);
    await db.delete('a');
    expect(await client.keys(`${keyPrefix}{${namespace}}:*`)).toEqual([]);
    await db.close();
  });

  it('rejects a namespace that would break the hash tag', () => {
    expect(() => redisDB({ client, namespace: 'a}b' })).toThrow(/namespace/);
  });
});
