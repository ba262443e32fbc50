import { invalidArgument, MicroError } from '@micro-os/core';
import pg from 'pg';
import { driverError } from './driver-error.js';
import type { AccountRecord, AuthStore } from './store.js';

export interface PostgresAuthStoreOptions {
  /** A ready pg pool; it is used as is and left open by `close()`. */
  pool?: pg.Pool;
  /** Connect lazily to this URL instead (the store owns and ends the pool). */
  url?: string;
  /** Prefix of the three tables (`<table>_accounts`, `_refresh_tokens`, `_revocations`), created on first use. @default "micro_auth" */
  table?: string;
  /** Connect and query timeout of an owned pool, ms. @default 5000 */
  timeout?: number;
}

/**
 * Auth store on Postgres: three tables, created once under an advisory lock; a refresh token is taken
 * with `DELETE ... RETURNING`, so of concurrent takes exactly one wins. Expired rows are deleted as
 * new ones are written.
 */
export function postgresAuthStore(options: PostgresAuthStoreOptions): AuthStore {
  const { pool: given, url } = options;
  if ((given === undefined) === (url === undefined))
    throw invalidArgument('postgresAuthStore needs exactly one of { pool } or { url }');
  const table = options.table ?? 'micro_auth';
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(table))
    throw invalidArgument(
      `postgresAuthStore table must match [a-z_][a-z0-9_]{0,40}, got ${JSON.stringify(table)}`,
    );
  const timeout = options.timeout ?? 5000;
  if (!(timeout > 0 && Number.isFinite(timeout)))
    throw invalidArgument(`timeout must be > 0 ms, got ${timeout}`);
  const pool =
    given ??
    new pg.Pool({ connectionString: url, connectionTimeoutMillis: timeout, query_timeout: timeout, max: 5 });
  if (given === undefined) pool.on('error', () => undefined);
  const accounts = `"${table}_accounts"`;
  const refresh = `"${table}_refresh_tokens"`;
  const revocations = `"${table}_revocations"`;
  let ready: Promise<void> | undefined;
  let closed = false;
  let writes = 0;

  const migrate = async (): Promise<void> => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`micro-os:auth:${table}`]);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${accounts} (id text PRIMARY KEY, record jsonb NOT NULL)`,
      );
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${refresh} (hash text PRIMARY KEY, account_id text NOT NULL, expires bigint NOT NULL)`,
      );
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${revocations} (jti text PRIMARY KEY, expires bigint NOT NULL)`,
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };

  const query = async (operation: string, text: string, values: unknown[]): Promise<pg.QueryResult> => {
    if (closed) throw new MicroError('failed_precondition', 'the postgres auth store is closed');
    try {
      ready ??= migrate().catch((err: unknown) => {
        ready = undefined;
        throw err;
      });
      await ready;
      return await pool.query(text, values);
    } catch (err) {
      throw driverError('postgres', operation, err);
    }
  };

  const sweep = (): void => {
    if (++writes % 500 !== 0) return;
    const now = Date.now();
    void query('sweep', `DELETE FROM ${refresh} WHERE expires <= $1`, [now]).catch(() => undefined);
    void query('sweep', `DELETE FROM ${revocations} WHERE expires <= $1`, [now]).catch(() => undefined);
  };

  const store: AuthStore = {
    name: 'postgres',
    async createAccount(record) {
      const result = await query(
        'createAccount',
        `INSERT INTO ${accounts} (id, record) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
        [record.id, JSON.stringify(record)],
      );
      if (result.rowCount === 0)
        throw new MicroError('already_exists', `account ${JSON.stringify(record.id)} already exists`);
    },
    async getAccount(id) {
      const { rows } = await query('getAccount', `SELECT record FROM ${accounts} WHERE id = $1`, [id]);
      return rows.length === 0 ? undefined : (rows[0].record as AccountRecord);
    },
    async deleteAccount(id) {
      const result = await query('deleteAccount', `DELETE FROM ${accounts} WHERE id = $1`, [id]);
      return (result.rowCount ?? 0) > 0;
    },
    async listAccounts() {
      const { rows } = await query('listAccounts', `SELECT record FROM ${accounts} ORDER BY id`, []);
      return rows.map((r) => r.record as AccountRecord);
    },
    async putRefreshToken(record) {
      sweep();
      await query(
        'putRefreshToken',
        `INSERT INTO ${refresh} (hash, account_id, expires) VALUES ($1, $2, $3)`,
        [record.hash, record.accountId, record.expires],
      );
    },
    async takeRefreshToken(hash) {
      const { rows } = await query(
        'takeRefreshToken',
        `DELETE FROM ${refresh} WHERE hash = $1 RETURNING account_id, expires`,
        [hash],
      );
      const row = rows[0] as { account_id: string; expires: string } | undefined;
      if (row === undefined || Number(row.expires) <= Date.now()) return undefined;
      return { hash, accountId: row.account_id, expires: Number(row.expires) };
    },
    async revoke(jti, expires) {
      sweep();
      await query(
        'revoke',
        `INSERT INTO ${revocations} (jti, expires) VALUES ($1, $2)
         ON CONFLICT (jti) DO UPDATE SET expires = GREATEST(${revocations}.expires, EXCLUDED.expires)`,
        [jti, expires],
      );
    },
    async isRevoked(jti) {
      const { rows } = await query(
        'isRevoked',
        `SELECT 1 FROM ${revocations} WHERE jti = $1 AND expires > $2`,
        [jti, Date.now()],
      );
      return rows.length > 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (given === undefined) await pool.end();
    },
    async [Symbol.asyncDispose]() {
      await store.close();
    },
  };
  return store;
}
