import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { memcachedKV } from '../src/memcached.js';
import { kvSuite } from '../src/testing.js';

const keyPrefix = `t-${randomUUID().slice(0, 8)}:`;
beforeAll(() => requireServer('memcached'));

kvSuite('memcached', {
  create: () => memcachedKV({ servers: testServers.memcached, keyPrefix }),
  ttlGranularity: 'seconds',
  canListKeys: false,
  maxValueSize: 1024 * 1024 - 1024,
  maxKeyLength: 250 - keyPrefix.length,
});

describe('memcachedKV', () => {
  it('still hides an item at its millisecond expiry although memcached counts seconds', async () => {
    const kv = memcachedKV({ servers: testServers.memcached, keyPrefix });
    await kv.put('ms', 1, { ttl: 50 });
    expect(await kv.get('ms')).toBe(1);
    await new Promise((r) => setTimeout(r, 120));
    expect(await kv.get('ms')).toBeUndefined();
    await kv.close();
  });

  it('answers unavailable within the timeout when no server listens', async () => {
    const kv = memcachedKV({ servers: '127.0.0.1:1', timeout: 300 });
    const started = Date.now();
    await expect(kv.get('x')).rejects.toMatchObject({ code: 'unavailable' });
    expect(Date.now() - started).toBeLessThan(2000);
    await kv.close();
  });
});
