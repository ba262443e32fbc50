import { randomUUID } from 'node:crypto';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { postgresRegistry } from '../src/postgres.js';
import { discoverySuite } from '../src/testing.js';

const table = `test_registry_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  await requireServer('postgres');
});
afterAll(async () => {
  const client = new pg.Client({ connectionString: testServers.postgres });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${table}`);
  await client.end();
});

discoverySuite('postgres', { create: () => postgresRegistry({ url: testServers.postgres, table }) });
