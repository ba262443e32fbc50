import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import { lockFailure } from '@micro-os/sync';
import { fencedUpdate, postgresLocks } from '@micro-os/sync/postgres';
import { electionSuite, locksSuite } from '@micro-os/sync/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const table = `sync_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const pool = new pg.Pool({ connectionString: testServers.postgres, max: 10 });
beforeAll(() => requireServer('postgres'));
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS ${table}, ${table}_res; DROP SEQUENCE IF EXISTS ${table}_token`);
  await pool.end();
});

locksSuite('postgres', { create: () => postgresLocks({ pool, table }) });
electionSuite('postgres', { create: () => postgresLocks({ url: testServers.postgres, table }) });

describe('fencedUpdate', () => {
  it('accepts only writes with a token above the last accepted one', async () => {
    await pool.query(
      `CREATE TABLE ${table}_res (id int PRIMARY KEY, fence_token bigint NOT NULL, value text)`,
    );
    await pool.query(`INSERT INTO ${table}_res VALUES (1, 0, 'initial')`);
    const write = (token: number, value: string) =>
      fencedUpdate(pool, { table: `${table}_res`, key: 1, token, values: { value } });
    expect(await write(5, 'five')).toBe(true);
    expect(await write(4, 'stale')).toBe(false);
    expect(await write(5, 'same')).toBe(false);
    expect(await write(6, 'six')).toBe(true);
    expect((await pool.query(`SELECT value, fence_token FROM ${table}_res`)).rows).toEqual([
      { value: 'six', fence_token: '6' },
    ]);
  });

  it('rejects identifiers that are not plain names with invalid_argument', async () => {
    await expect(
      fencedUpdate(pool, { table: 'x; drop', key: 1, token: 1, values: {} }),
    ).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });
});

describe('owner session', () => {
  it('a holder whose session ends loses its locks at once; others take them without waiting for the ttl', async () => {
    const [a, b] = [postgresLocks({ pool, table }), postgresLocks({ url: testServers.postgres, table })];
    const key = `session-${randomUUID().slice(0, 8)}`;
    const lock = await a.acquire(key, { ttl: 60_000 });
    const lost = new Promise((resolve) => lock.signal.addEventListener('abort', resolve, { once: true }));
    const { rows } = await pool.query(`SELECT owner_pid FROM ${table} WHERE name = $1`, [key]);
    await pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.owner_pid]);
    await lost;
    expect(lockFailure(lock.signal.reason)).toBe('lock_lost');
    const next = await b.acquire(key, { wait: 1000 });
    expect(next.token).toBeGreaterThan(lock.token);
    await expect(lock.release()).rejects.toMatchObject({ code: 'aborted', details: { reason: 'lock_lost' } });
    expect((await b.inspect(key))?.token).toBe(next.token);
    await next.release();
    // The session reconnects for later acquisitions.
    const again = await a.acquire(key, { wait: 1000 });
    expect(again.token).toBeGreaterThan(next.token);
    await again.release();
    await a.close();
    await b.close();
  });
});
