import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAuthStore } from '../src/postgres.js';
import { authStoreSuite } from '../src/testing.js';

const table = `test_auth_${randomUUID().slice(0, 8)}`;
let pool: pg.Pool;
beforeAll(async () => {
  await requireServer('postgres');
  pool = new pg.Pool({ connectionString: testServers.postgres });
});
afterAll(async () => {
  for (const suffix of ['accounts', 'refresh_tokens', 'revocations'])
    await pool.query(`DROP TABLE IF EXISTS "${table}_${suffix}"`);
  await pool.end();
});

authStoreSuite('postgres', { create: () => postgresAuthStore({ url: testServers.postgres, table }) });

describe('postgresAuthStore', () => {
  it('rejects a table name that is not a plain identifier', () => {
    expect(() => postgresAuthStore({ pool, table: 'x; drop table y' })).toThrow(/table/);
  });

  it('answers unavailable when the server is unreachable', async () => {
    const store = postgresAuthStore({ url: 'postgres://postgres@127.0.0.1:1/test', timeout: 500 });
    await expect(store.isRevoked('x')).rejects.toMatchObject({ code: 'unavailable' });
    await store.close();
  });
});
