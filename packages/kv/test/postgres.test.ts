import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresKV } from '../src/postgres.js';
import { kvSuite } from '../src/testing.js';

const table = `test_kv_${randomUUID().slice(0, 8)}`;
let pool: pg.Pool;
beforeAll(async () => {
  await requireServer('postgres');
  pool = new pg.Pool({ connectionString: testServers.postgres });
});
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS "${table}"`);
  await pool.end();
});

kvSuite('postgres', { create: () => postgresKV({ url: testServers.postgres, table }) });

describe('postgresKV', () => {
  it('creates its table once, even when several processes start together', async () => {
    const name = `test_kv_${randomUUID().slice(0, 8)}`;
    const kvs = Array.from({ length: 5 }, () => postgresKV({ url: testServers.postgres, table: name }));
    try {
      await Promise.all(kvs.map((kv, i) => kv.put(`k${i}`, i)));
      const { rows } = await pool.query('SELECT count(*)::int AS n FROM pg_tables WHERE tablename = $1', [
        name,
      ]);
      expect(rows[0].n).toBe(1);
    } finally {
      await Promise.all(kvs.map((kv) => kv.close()));
      await pool.query(`DROP TABLE IF EXISTS "${name}"`);
    }
  });

  it('the sweep deletes expired rows', async () => {
    const kv = postgresKV({ pool, table, cleanupInterval: 50 });
    await kv.put('swept', 1, { ttl: 10 });
    await new Promise((r) => setTimeout(r, 300));
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${table}" WHERE key = 'swept'`);
    expect(rows[0].n).toBe(0);
    await kv.close();
  });

  it('rejects a table name that is not a plain identifier', () => {
    expect(() => postgresKV({ pool, table: 'x; drop table y' })).toThrow(/table/);
  });

  it('answers unavailable when the server is unreachable', async () => {
    const kv = postgresKV({ url: 'postgres://postgres@127.0.0.1:1/test', timeout: 500 });
    await expect(kv.get('x')).rejects.toMatchObject({ code: 'unavailable' });
    await kv.close();
  });
});
