import pg from 'pg';
import { postgresError, retryTerminated } from './postgres-errors.js';

export interface OwnedPoolOptions {
  connectionString: string;
  /** @default 10 */
  poolSize?: number | undefined;
  /** Connect and statement timeout, ms. */
  timeout: number;
}

/**
 * The pool a Postgres backend opens and owns when given a URL. An idle connection that dies emits 'error' on
 * the pool; the listener keeps that from crashing the process, the pool drops it and the next query reconnects.
 */
export function ownedPostgresPool(options: OwnedPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.timeout,
    query_timeout: options.timeout,
  });
  pool.on('error', () => undefined);
  return pool;
}

export interface MigratedQueryOptions {
  /** Name of the advisory lock that serialises migrations between processes. */
  lock: string;
  /** Idempotent DDL (`CREATE ... IF NOT EXISTS`), run in one transaction on first use. */
  statements: readonly string[];
  /** Runs before the migration, e.g. creating the database. */
  before?: (() => Promise<void>) | undefined;
  /** Prefix of error messages: `postgres <prefix><what> failed`. @default '' */
  prefix?: string | undefined;
}

/** A query that migrates on first use (retrying the migration after a failure) and maps errors. */
export type MigratedQuery = <R extends pg.QueryResultRow>(
  what: string,
  text: string,
  values: unknown[],
) => Promise<R[]>;

/**
 * Queries on `pool` that run the migration once first, run a statement again on a fresh connection when
 * the server terminated the pooled one (every pooled connection may have been, so up to pool size + 1 tries),
 * and answer failures as MicroErrors (`unavailable` for connection trouble).
 */
export function migratedQuery(pool: pg.Pool, options: MigratedQueryOptions): MigratedQuery {
  const retries = (pool.options.max ?? 10) + 1;
  const prefix = options.prefix ?? '';
  let ready: Promise<void> | undefined;
  const migrate = async (): Promise<void> => {
    await options.before?.();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [options.lock]);
      for (const statement of options.statements) await client.query(statement);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };
  return async <R extends pg.QueryResultRow>(what: string, text: string, values: unknown[]): Promise<R[]> => {
    try {
      ready ??= migrate().catch((err: unknown) => {
        ready = undefined;
        throw err;
      });
      await ready;
      return (await retryTerminated(() => pool.query<R>(text, values), retries)).rows;
    } catch (err) {
      throw postgresError(err, `${prefix}${what}`);
    }
  };
}
