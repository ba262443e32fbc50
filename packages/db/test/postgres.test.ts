import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresDB } from '../src/postgres.js';
import { dbSuite } from '../src/testing.js';

const tables: string[] = [];
const table = (): string => {
  const name = `test_db_${randomUUID().slice(0, 8)}`;
  tables.push(name);
  return name;
};
let pool: pg.Pool;
beforeAll(async () => {
  await requireServer('postgres');
  pool = new pg.Pool({ connectionString: testServers.postgres });
});
afterAll(async () => {
  for (const name of tables) await pool.query(`DROP TABLE IF EXISTS "${name}"`);
  await pool.end();
});

dbSuite('postgres', { create: () => postgresDB({ url: testServers.postgres, table: table() }) });

describe('postgresDB', () => {
  it('metadata search uses the GIN index', async () => {
    const name = table();
    const db = postgresDB({ pool, table: name });
    await db.create({ id: 'x', metadata: { color: 'red' } });
    const client = await pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const { rows } = await client.query(`EXPLAIN SELECT * FROM "${name}" WHERE metadata @> $1::jsonb`, [
        JSON.stringify({ color: 'red' }),
      ]);
      expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toContain(`${name}_metadata`);
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
    await db.close();
  });

  it('creates its table once when several processes start together', async () => {
    const name = table();
    const dbs = Array.from({ length: 4 }, () => postgresDB({ url: testServers.postgres, table: name }));
    await Promise.all(dbs.map((db, i) => db.create({ id: `r${i}` })));
    expect(await dbs[0]?.search()).toHaveLength(4);
    await Promise.all(dbs.map((db) => db.close()));
  });

  it('creates the database named by options on first use, also when several processes start together', async () => {
    const database = `test_db_${randomUUID().slice(0, 8)}`;
    const dbs = Array.from({ length: 3 }, () =>
      postgresDB({ url: testServers.postgres, database, table: 'records' }),
    );
    try {
      await Promise.all(dbs.map((db, i) => db.create({ id: `r${i}` })));
      expect(await dbs[0]?.search({ orderBy: 'id' })).toHaveLength(3);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
      await pool.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    }
  });

  it('rejects database with a given pool and a bad database name', () => {
    expect(() => postgresDB({ pool, database: 'x' })).toThrow(/url/);
    expect(() => postgresDB({ url: testServers.postgres, database: 'bad-name' })).toThrow(/database/);
  });

  it('answers unavailable when the server is unreachable', async () => {
    const db = postgresDB({ url: 'postgres://postgres@127.0.0.1:1/test', timeout: 500 });
    await expect(db.read('x')).rejects.toMatchObject({ code: 'unavailable' });
    await db.close();
  });
});
