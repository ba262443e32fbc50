import { randomUUID } from 'node:crypto';
import { isMicroError } from '@micro-os/core';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresDB } from '../src/postgres.js';
import { redisDB } from '../src/redis.js';
import { OwnRedis } from './fixtures/own-redis.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('db server faults', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('redis: a restart answers unavailable within the timeout, then the first call succeeds within 2 s', async () => {
    const server = new OwnRedis();
    cleanups.push(() => server.kill());
    await server.start();
    const db = redisDB({ url: `redis://127.0.0.1:${server.port}`, timeout: 1000 });
    cleanups.push(() => db.close());
    await db.create({ id: 'before', metadata: { k: 'v' } });
    await server.kill();
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const err = await db.create({ id: `down-${i}` }).catch((e: unknown) => e);
      expect(isMicroError(err, 'unavailable'), String(err)).toBe(true);
      expect(Date.now() - started).toBeLessThan(1500);
    }
    await server.start();
    const started = Date.now();
    await db.create({ id: 'after', metadata: { k: 'v' } });
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await db.search({ metadata: { k: 'v' } })).map((r) => r.id)).toEqual(['after']);
  });

  it('postgres: pg_terminate_backend on every idle pooled connection, 100 times, leaves the next query working', async () => {
    await requireServer('postgres');
    const app = `db-fault-${randomUUID().slice(0, 8)}`;
    const url = new URL(testServers.postgres);
    url.searchParams.set('application_name', app);
    const table = `fault_db_${randomUUID().slice(0, 8)}`;
    const db = postgresDB({ url: url.toString(), table });
    const admin = new pg.Pool({ connectionString: testServers.postgres, max: 1 });
    cleanups.push(async () => {
      await db.close();
      await admin.query(`DROP TABLE IF EXISTS "${table}"`);
      await admin.end();
    });
    await db.create({ id: 'r', metadata: { n: 0 } });
    for (let round = 0; round < 100; round++) {
      await Promise.all(Array.from({ length: 10 }, () => db.read('r')));
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'`,
        [app],
      );
      await sleep(10);
      const current = await db.read('r');
      await db.update({ id: 'r', version: current.version, metadata: { n: round + 1 } });
    }
    expect(await db.read('r')).toMatchObject({ version: 101, metadata: { n: 100 } });
  });
});
