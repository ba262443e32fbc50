import { randomUUID } from 'node:crypto';
import { isMicroError } from '@micro-os/core';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { KV } from '../src/index.js';
import { memcachedKV } from '../src/memcached.js';
import { postgresKV } from '../src/postgres.js';
import { redisKV } from '../src/redis.js';
import { OwnServer, randomPort, TcpProxy } from './fixtures/servers.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Calls made while the server is down fail with `unavailable`, each within `limit` ms. */
async function expectFastFailures(kv: KV, limit: number): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    const err = await kv.put(`down-${i}`, i).catch((e: unknown) => e);
    expect(isMicroError(err, 'unavailable'), String(err)).toBe(true);
    expect(Date.now() - started).toBeLessThan(limit);
  }
}

/** The first call once the server is back succeeds, within 2 s. */
async function expectRecovery(kv: KV): Promise<void> {
  const started = Date.now();
  expect(await kv.put('after', 'back')).toBeGreaterThan(0);
  expect(Date.now() - started).toBeLessThan(2000);
  expect(await kv.get('after')).toBe('back');
}

describe('server outages', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('redis: restart mid-run answers unavailable within the timeout, then the first call succeeds', async () => {
    const port = randomPort();
    const server = new OwnServer(port, 'redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]);
    cleanups.push(() => server.kill());
    await server.start();
    const kv = redisKV({ url: `redis://127.0.0.1:${port}`, timeout: 1000 });
    cleanups.push(() => kv.close());
    await kv.put('before', 1);
    await server.kill();
    await expectFastFailures(kv, 1500);
    await server.start();
    await expectRecovery(kv);
  });

  it('memcached: stopped longer than the timeout answers unavailable fast, then the first call succeeds', async () => {
    const port = randomPort();
    const server = new OwnServer(port, 'memcached', [
      '-l',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      '0',
      '-u',
      'memcache',
    ]);
    cleanups.push(() => server.kill());
    await server.start();
    const kv = memcachedKV({ servers: `127.0.0.1:${port}`, timeout: 500 });
    cleanups.push(() => kv.close());
    await kv.put('before', 1);
    await server.kill();
    await expectFastFailures(kv, 1000);
    await sleep(1500);
    await expectFastFailures(kv, 1000);
    await server.start();
    await expectRecovery(kv);
  });

  it('postgres: an outage mid-run answers unavailable, recovers, and loses nothing acknowledged', async () => {
    await requireServer('postgres');
    const target = new URL(testServers.postgres);
    const proxy = new TcpProxy(randomPort(), Number(target.port || 5432));
    cleanups.push(() => proxy.stop());
    await proxy.start();
    const table = `fault_kv_${randomUUID().slice(0, 8)}`;
    const viaProxy = new URL(testServers.postgres);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const kv = postgresKV({ url: viaProxy.toString(), table, timeout: 1000 });
    const direct = new pg.Pool({ connectionString: testServers.postgres });
    cleanups.push(async () => {
      await kv.close();
      await direct.query(`DROP TABLE IF EXISTS "${table}"`);
      await direct.end();
    });

    const acknowledged = new Map<string, number>();
    let writing = true;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; writing; i++) {
        const key = `w${w}-${i}`;
        try {
          await kv.put(key, i);
          acknowledged.set(key, i);
        } catch (err) {
          if (!isMicroError(err, 'unavailable')) throw err;
          await sleep(20);
        }
      }
    });
    await sleep(500);
    await proxy.stop();
    await expectFastFailures(kv, 1500);
    await sleep(500);
    await proxy.start();
    await expectRecovery(kv);
    await sleep(300);
    writing = false;
    await Promise.all(writers);

    const { rows } = await direct.query<{ key: string; value: Buffer }>(`SELECT key, value FROM "${table}"`);
    const stored = new Map(
      rows.map((row) => [row.key, JSON.parse(row.value.subarray(1).toString()) as unknown]),
    );
    expect(acknowledged.size).toBeGreaterThan(20);
    for (const [key, value] of acknowledged) expect(stored.get(key), key).toBe(value);
  });

  it('postgres: pg_terminate_backend on every idle pooled connection, 100 times, leaves the next query working', async () => {
    await requireServer('postgres');
    const app = `kv-fault-${randomUUID().slice(0, 8)}`;
    const url = new URL(testServers.postgres);
    url.searchParams.set('application_name', app);
    const table = `fault_kv_${randomUUID().slice(0, 8)}`;
    const kv = postgresKV({ url: url.toString(), table });
    const admin = new pg.Pool({ connectionString: testServers.postgres, max: 1 });
    cleanups.push(async () => {
      await kv.close();
      await admin.query(`DROP TABLE IF EXISTS "${table}"`);
      await admin.end();
    });
    await kv.put('k', 'v');
    for (let round = 0; round < 100; round++) {
      await Promise.all(Array.from({ length: 10 }, () => kv.get('k')));
      const { rows } = await admin.query(
        `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'`,
        [app],
      );
      expect(rows.length).toBeGreaterThan(0);
      await sleep(30);
      expect(await kv.get('k')).toBe('v');
    }
  });
});
