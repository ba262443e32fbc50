import { randomUUID } from 'node:crypto';
import { type PostgresSource, postgresSource } from '@micro-os/config/postgres';
import { configSourceSuite } from '@micro-os/config/testing';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

const table = `micro_config_test_${randomUUID().slice(0, 8)}`;
const url = testServers.postgres;
let admin: pg.Pool;
let sharedPool: pg.Pool;
let sharedClient: pg.Client;

beforeAll(async () => {
  await requireServer('postgres');
  admin = new pg.Pool({ connectionString: url, max: 2 });
  sharedPool = new pg.Pool({ connectionString: url, max: 4 });
  sharedClient = new pg.Client({ connectionString: url });
  await sharedClient.connect();
  const first = postgresSource({ url, table, name: 'setup' });
  await first.read();
  await first.close();
});
afterAll(async () => {
  await admin?.query(`DROP TABLE IF EXISTS "${table}"; DROP FUNCTION IF EXISTS "${table}_notify"()`);
  await admin?.end();
  await sharedPool?.end();
  await sharedClient?.end();
});

const set = async (source: PostgresSource, doc: object): Promise<void> => {
  await admin.query(
    `INSERT INTO "${table}" (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
    [source.row, JSON.stringify(doc)],
  );
};
const destroy = async (source: PostgresSource): Promise<void> => {
  await admin.query(`DELETE FROM "${table}" WHERE name = $1`, [source.row]);
};

configSourceSuite('postgres (url)', {
  create: () => postgresSource({ url, table, name: randomUUID() }),
  set,
  destroy,
});
configSourceSuite('postgres (pool)', {
  create: () => postgresSource({ pool: sharedPool, table, name: randomUUID() }),
  set,
  destroy,
});
configSourceSuite('postgres (client)', {
  create: () => postgresSource({ client: sharedClient, table, name: randomUUID() }),
  set,
  destroy,
});
