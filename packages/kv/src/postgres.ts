import { invalidArgument, MicroError } from '@micro-os/core';
import { migratedQuery, ownedPostgresPool } from '@micro-os/core/internal/postgres';
import type pg from 'pg';
import { createKV } from './create-kv.js';
import type { KVDriver, StoredItem, WriteCondition } from './driver.js';
import type { KV } from './kv.js';

export interface PostgresKVOptions {
  /** A ready pg pool; it is used as is and left open by `close()`. */
  pool?: pg.Pool;
  /** Connect lazily to this URL instead (the KV owns and ends the pool). */
  url?: string;
  /** Table name, created on first use. @default "micro_kv" */
  table?: string;
  /** How often expired rows are deleted, in ms; 0 turns the sweep off (reads still hide them). @default 60000 */
  cleanupInterval?: number;
  /** Connect and query timeout of an owned pool, in ms. @default 5000 */
  timeout?: number;
  /** Connections in an owned pool. @default 10 */
  poolSize?: number;
  /** Told about failures of the background sweep (the next sweep retries). @default ignore */
  onError?: (err: MicroError) => void;
}

const live = '(expires_at IS NULL OR expires_at > now())';
const expiry = "now() + $3::double precision * interval '1 millisecond'";
const pageSize = 500;

/**
 * A KV on Postgres: one table (key, value bytea, version, expires_at), upserts with versions, reads that
 * ignore expired rows, a periodic sweep, and a migration that runs once on first use under an advisory lock.
 */
export function postgresKV(options: PostgresKVOptions): KV {
  const { pool: given, url } = options;
  if ((given === undefined) === (url === undefined)) {
    throw invalidArgument('postgresKV needs exactly one of { pool } or { url }');
  }
  const table = options.table ?? 'micro_kv';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(table)) {
    throw invalidArgument(`postgresKV table must match [a-z_][a-z0-9_]{0,62}, got ${JSON.stringify(table)}`);
  }
  const timeout = options.timeout ?? 5000;
  const interval = options.cleanupInterval ?? 60_000;
  if (!(Number.isFinite(timeout) && timeout > 0))
    throw invalidArgument(`postgresKV timeout must be > 0, got ${timeout}`);
  if (!(Number.isFinite(interval) && interval >= 0)) {
    throw invalidArgument(`postgresKV cleanupInterval must be >= 0 ms, got ${interval}`);
  }
  const pool =
    given ?? ownedPostgresPool({ connectionString: url as string, poolSize: options.poolSize, timeout });
  const t = `"${table}"`;
  const run = migratedQuery(pool, {
    lock: `micro-os:kv:${table}`,
    statements: [
      `CREATE TABLE IF NOT EXISTS ${t} (
        key text COLLATE "C" PRIMARY KEY,
        value bytea NOT NULL,
        version bigint NOT NULL,
        expires_at timestamptz
      )`,
      `CREATE INDEX IF NOT EXISTS "${table}_expires_at" ON ${t} (expires_at) WHERE expires_at IS NOT NULL`,
    ],
  });
  // Whether the table may exist yet: the sweep never creates it.
  let used = false;
  const query = <R extends pg.QueryResultRow>(
    what: string,
    text: string,
    values: unknown[],
  ): Promise<R[]> => {
    used = true;
    return run<R>(what, text, values);
  };
  const item = (row: { value: Buffer; version: string } | undefined): StoredItem | undefined =>
    row === undefined ? undefined : { data: row.value, version: Number(row.version) };
  const like = (prefix: string): string => `${prefix.replace(/[\\%_]/g, '\\$&')}%`;

  let closed = false;
  const timer =
    interval > 0
      ? setInterval(() => {
          if (!used) return;
          query('cleanup', `DELETE FROM ${t} WHERE expires_at <= now()`, []).catch((err: MicroError) =>
            options.onError?.(err),
          );
        }, interval).unref()
      : undefined;

  const driver: KVDriver = {
    name: 'postgres',
    maxKeyLength: 1024,
    maxValueSize: 256 * 1024 * 1024,
    async get(key) {
      const rows = await query<{ value: Buffer; version: string }>(
        'get',
        `SELECT value, version FROM ${t} WHERE key = $1 AND ${live}`,
        [key],
      );
      return item(rows[0]);
    },
    async getMany(keys) {
      const rows = await query<{ key: string; value: Buffer; version: string }>(
        'getMany',
        `SELECT key, value, version FROM ${t} WHERE key = ANY($1::text[]) AND ${live}`,
        [keys],
      );
      const byKey = new Map(rows.map((row) => [row.key, row]));
      return keys.map((key) => item(byKey.get(key)));
    },
    async put(key, data, ttl, condition: WriteCondition) {
      const values = [key, data, ttl ?? null];
      let rows: { version: string }[];
      if (condition.kind === 'version') {
        rows = await query(
          'put',
          `UPDATE ${t} SET value = $2, version = version + 1, expires_at = ${expiry}
          WHERE key = $1 AND version = $4 AND ${live} RETURNING version`,
          [...values, condition.version],
        );
        if (rows.length === 0) {
          throw new MicroError('aborted', `key "${key}" is not at version ${condition.version}`, {
            details: { key, expected: condition.version },
          });
        }
      } else {
        // An expired row counts as absent: it is overwritten, its version line continuing.
        rows = await query(
          'put',
          `INSERT INTO ${t} AS old (key, value, version, expires_at) VALUES ($1, $2, 1, ${expiry})
          ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at,
            version = old.version + 1
          ${condition.kind === 'absent' ? 'WHERE old.expires_at <= now()' : ''}
          RETURNING version`,
          values,
        );
        if (rows.length === 0) {
          throw new MicroError('already_exists', `key "${key}" already exists`, { details: { key } });
        }
      }
      return Number(rows[0]?.version);
    },
    async del(key) {
      const rows = await query<{ live: boolean }>(
        'del',
        `DELETE FROM ${t} WHERE key = $1 RETURNING ${live} AS live`,
        [key],
      );
      return rows[0]?.live === true;
    },
    async has(key) {
      return (await query('has', `SELECT 1 FROM ${t} WHERE key = $1 AND ${live}`, [key])).length > 0;
    },
    async *keys(prefix) {
      let after = '';
      for (;;) {
        const rows = await query<{ key: string }>(
          'keys',
          `SELECT key FROM ${t} WHERE key LIKE $1 AND key > $2 AND ${live} ORDER BY key LIMIT ${pageSize}`,
          [like(prefix), after],
        );
        for (const row of rows) yield row.key;
        if (rows.length < pageSize) return;
        after = rows[rows.length - 1]?.key ?? after;
      }
    },
    async clear(prefix) {
      await query('clear', `DELETE FROM ${t} WHERE key LIKE $1`, [like(prefix)]);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer !== undefined) clearInterval(timer);
      if (given === undefined) await pool.end();
    },
  };
  return createKV(driver);
}
