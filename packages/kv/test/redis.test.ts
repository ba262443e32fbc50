import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKV } from '../src/redis.js';
import { kvSuite } from '../src/testing.js';

const keyPrefix = `test-kv-${randomUUID().slice(0, 8)}:`;
beforeAll(() => requireServer('redis'));

kvSuite('redis', { create: () => redisKV({ url: testServers.redis, keyPrefix }) });

describe('redisKV', () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(testServers.redis);
  });
  afterAll(async () => {
    const left = await client.keys(`${keyPrefix}*`);
    if (left.length > 0) await client.unlink(...left);
    await client.quit();
  });

  it('a namespace leaves no index or set keys behind: after clear no key of it remains', async () => {
    const kv = redisKV({ client, keyPrefix });
    const ns = kv.namespace(`leak-${randomUUID().slice(0, 8)}`);
    await ns.putMany(Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: i })));
    expect(await client.keys(`${keyPrefix}${ns.prefix}*`)).toHaveLength(200);
    await ns.clear();
    expect(await client.keys(`*${ns.prefix}*`)).toHaveLength(0);
    await kv.close();
    expect(client.status).toBe('ready');
  });

  it('stores an item as one hash key, so it works on Redis Cluster', async () => {
    const kv = redisKV({ client, keyPrefix });
    await kv.put('one-key', { x: 1 }, { ttl: 60_000 });
    expect(await client.type(`${keyPrefix}one-key`)).toBe('hash');
    const ttl = await client.pttl(`${keyPrefix}one-key`);
    expect(ttl).toBeGreaterThan(50_000);
  });

  it('answers unavailable quickly when the server is unreachable', async () => {
    const kv = redisKV({ url: 'redis://127.0.0.1:1', timeout: 500 });
    const started = Date.now();
    await expect(kv.get('x')).rejects.toMatchObject({ code: 'unavailable' });
    expect(Date.now() - started).toBeLessThan(3000);
    await kv.close();
  });

  it('rejects options without a client or url', () => {
    expect(() => redisKV({})).toThrow(/client|url/);
  });
});
