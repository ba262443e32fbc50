import { invalidArgument } from '@micro-os/core';
import { migratedQuery, ownedPostgresPool } from '@micro-os/core/internal/postgres';
import pg from 'pg';
import { alreadyExists, createDB, notFound, versionMismatch } from './create-db.js';
import type { DB, DBRecord, JsonValue, Metadata } from './db.js';

export interface PostgresDBOptions {
  /** A ready pg pool; it is used as is and left open by `close()`. */
  pool?: pg.Pool;
  /** Connect lazily to this URL instead (the DB owns and ends the pool). */
  url?: string;
  /**
   * Database of the table, created on first use when missing (only with `url`: the URL names the database to
   * connect to for creating it). @default the URL's database
   */
  database?: string;
  /** Table of the records, created with its indexes on first use. @default "micro_db_records" */
  table?: string;
  /** Connect and query timeout of an owned pool, in ms. @default 5000 */
  timeout?: number;
  /** Connections in an owned pool. @default 10 */
  poolSize?: number;
}

interface Row {
  id: string;
  created: string;
  updated: string;
  version: string;
  metadata: Metadata;
  data: JsonValue;
}

/** Server time in epoch milliseconds, from the server clock so that every process agrees. */
const nowMs = 'floor(extract(epoch from clock_timestamp()) * 1000)::bigint';
const columns = 'id, created, updated, version, metadata, data';
const orderColumns = { created: 'created', updated: 'updated', id: 'id' } as const;

/**
 * A DB on Postgres: one table, metadata in jsonb with a GIN (jsonb_path_ops) index that `metadata @> $1`
 * searches use, data as json (kept byte for byte), optimistic updates by version.
 */
export function postgresDB(options: PostgresDBOptions): DB {
  const { pool: given, url } = options;
  if ((given === undefined) === (url === undefined)) {
    throw invalidArgument('postgresDB needs exactly one of { pool } or { url }');
  }
  const table = options.table ?? 'micro_db_records';
  if (!/^[a-z_][a-z0-9_]{0,50}$/.test(table)) {
    throw invalidArgument(`postgresDB table must match [a-z_][a-z0-9_]{0,50}, got ${JSON.stringify(table)}`);
  }
  const { database } = options;
  if (database !== undefined) {
    if (url === undefined)
      throw invalidArgument('postgresDB database applies to an owned pool: pass url, not pool');
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) {
      throw invalidArgument(
        `postgresDB database must match [a-z_][a-z0-9_]{0,62}, got ${JSON.stringify(database)}`,
      );
    }
  }
  const timeout = options.timeout ?? 5000;
  if (!(Number.isFinite(timeout) && timeout > 0))
    throw invalidArgument(`postgresDB timeout must be > 0, got ${timeout}`);
  const pool =
    given ??
    ownedPostgresPool({
      connectionString: database === undefined ? (url as string) : withDatabase(url as string, database),
      poolSize: options.poolSize,
      timeout,
    });
  const t = `"${table}"`;
  const queryRows = migratedQuery(pool, {
    lock: `micro-os:db:${table}`,
    before: database === undefined ? undefined : () => createDatabase(url as string, database, timeout),
    prefix: 'db ',
    statements: [
      `CREATE TABLE IF NOT EXISTS ${t} (
        id text COLLATE "C" PRIMARY KEY,
        created bigint NOT NULL,
        updated bigint NOT NULL,
        version bigint NOT NULL,
        metadata jsonb NOT NULL,
        data json NOT NULL
      )`,
      `CREATE INDEX IF NOT EXISTS "${table}_metadata" ON ${t} USING GIN (metadata jsonb_path_ops)`,
      `CREATE INDEX IF NOT EXISTS "${table}_created" ON ${t} (created, id)`,
      `CREATE INDEX IF NOT EXISTS "${table}_updated" ON ${t} (updated, id)`,
    ],
  });
  const query = (what: string, text: string, values: unknown[]): Promise<Row[]> =>
    queryRows<Row>(what, text, values);
  const record = (row: Row): DBRecord => ({
    id: row.id,
    created: Number(row.created),
    updated: Number(row.updated),
    version: Number(row.version),
    metadata: row.metadata,
    data: row.data,
  });
  let closed = false;

  return createDB({
    name: 'postgres',
    async create({ id, metadata, data }) {
      const rows = await query(
        'create',
        `INSERT INTO ${t} (id, created, updated, version, metadata, data)
         SELECT $1, now_ms, now_ms, 1, $2::jsonb, $3::json FROM (SELECT ${nowMs} AS now_ms) AS clock
         ON CONFLICT (id) DO NOTHING RETURNING ${columns}`,
        [id, JSON.stringify(metadata), JSON.stringify(data)],
      );
      if (rows[0] === undefined) throw alreadyExists(id);
      return record(rows[0]);
    },
    async read(id) {
      const rows = await query('read', `SELECT ${columns} FROM ${t} WHERE id = $1`, [id]);
      if (rows[0] === undefined) throw notFound(id);
      return record(rows[0]);
    },
    async update({ id, version, metadata, data }) {
      const rows = await query(
        'update',
        `UPDATE ${t} SET version = version + 1, updated = greatest(${nowMs}, updated),
           metadata = coalesce($3::jsonb, metadata), data = coalesce($4::json, data)
         WHERE id = $1 AND version = $2 RETURNING ${columns}`,
        [
          id,
          version,
          metadata === undefined ? null : JSON.stringify(metadata),
          data === undefined ? null : JSON.stringify(data),
        ],
      );
      if (rows[0] !== undefined) return record(rows[0]);
      const current = await query('update', `SELECT version FROM ${t} WHERE id = $1`, [id]);
      if (current[0] === undefined) throw notFound(id);
      throw versionMismatch(id, version, Number(current[0].version));
    },
    async delete(id) {
      const rows = await query('delete', `DELETE FROM ${t} WHERE id = $1 RETURNING id`, [id]);
      if (rows.length === 0) throw notFound(id);
    },
    async search({ metadata, limit, offset, orderBy, descending }) {
      const direction = descending ? 'DESC' : 'ASC';
      const order =
        orderBy === 'id' ? `id ${direction}` : `${orderColumns[orderBy]} ${direction}, id ${direction}`;
      const filter = Object.keys(metadata).length === 0 ? '' : 'WHERE metadata @> $3::jsonb';
      const values: unknown[] = [limit, offset];
      if (filter !== '') values.push(JSON.stringify(metadata));
      const rows = await query(
        'search',
        `SELECT ${columns} FROM ${t} ${filter} ORDER BY ${order} LIMIT $1 OFFSET $2`,
        values,
      );
      return rows.map(record);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (given === undefined) await pool.end();
    },
  });
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates the database if missing; another process creating it at the same moment is fine. */
async function createDatabase(url: string, database: string, timeout: number): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeout,
    query_timeout: timeout,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${database}"`).catch((err: unknown) => {
        // 42P04 duplicate_database, 23505 unique_violation: created by someone else in between.
        const code = (err as { code?: unknown }).code;
        if (code !== '42P04' && code !== '23505') throw err;
      });
    }
  } finally {
    await client.end();
  }
}
