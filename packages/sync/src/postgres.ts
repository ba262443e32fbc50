import { invalidArgument, MicroError, toMicroError } from '@micro-os/core';
import pg from 'pg';
import { createLocks, type LocksOptions } from './create-locks.js';
import type { Lease, LeaseBackend, LeaseEnd } from './lease.js';
import { OwnerSession } from './postgres-session.js';
import type { Holder, LockMetadata, Locks } from './types.js';

/** What the backend needs of pg: a `Pool` (or a `Client`, or anything with the same `query`). */
export interface Queryable {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

export interface PostgresLocksOptions extends LocksOptions {
  /** A pg Pool (left open on close); its settings also open the backend's session connection. */
  pool?: pg.Pool;
  /** Or a connection string: the backend opens its own pool lazily and closes it. */
  url?: string;
  /** The lease table (created if missing, with a `<table>_token` sequence). @default 'micro_sync_locks' */
  table?: string;
}

const identifier = /^[a-z_][a-z0-9_]{0,50}$/;

/**
 * Locks on Postgres: a lease row per name with a server-side expiry, tokens from a sequence drawn while the row
 * is locked (so they increase in acquisition order). Queries go through a pool; one more connection, the owner
 * session, stands for this process: a row whose owner session is gone is free at once (a crashed holder), and
 * when that session fails, every lease it owns is lost.
 */
export function postgresLocks(options: PostgresLocksOptions): Locks {
  const { pool, url, table = 'micro_sync_locks' } = options;
  if ((pool === undefined) === (url === undefined)) {
    throw invalidArgument('postgresLocks needs exactly one of pool or url', { field: 'pool' });
  }
  if (url !== undefined && (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url))) {
    throw invalidArgument(`invalid url ${JSON.stringify(url)}: expected postgres://...`, { field: 'url' });
  }
  if (typeof table !== 'string' || !identifier.test(table)) {
    throw invalidArgument(`invalid table ${JSON.stringify(table)}: use lower-case letters, digits and '_'`, {
      field: 'table',
    });
  }
  let owned: pg.Pool | undefined;
  const db = (): Queryable => {
    if (pool !== undefined) return pool as unknown as Queryable;
    if (owned === undefined) {
      owned = new pg.Pool({ connectionString: url });
      owned.on('error', () => undefined); // an idle client's failure surfaces on the next query
    }
    return owned as unknown as Queryable;
  };
  const session = new OwnerSession(pool === undefined ? { connectionString: url } : pool.options);
  return createLocks(
    postgresBackend(db, session, table, async () => {
      await session.close();
      await owned?.end();
    }),
    options,
  );
}

function postgresBackend(
  db: () => Queryable,
  session: OwnerSession,
  table: string,
  close: () => Promise<void>,
): LeaseBackend {
  const sequence = `${table}_token`;
  let ready: Promise<void> | undefined;
  const query = async (text: string, values: unknown[]) => {
    ready ??= setup(db(), table, sequence).catch((err: unknown) => {
      ready = undefined;
      throw err;
    });
    await ready;
    try {
      return await db().query(text, values);
    } catch (err) {
      throw toMicroError(err, 'unavailable');
    }
  };
  const ttlSql = `clock_timestamp() + $2::integer * interval '1 millisecond'`;
  // A row's owner session is gone when pg_stat_activity no longer lists its pid with its start time (a reused pid
  // has another). A role that may not see other roles' sessions reads a null start there: the pid alone then keeps
  // the lease, which errs on the safe side. Rows without an owner end by expiry only.
  const ownerGone = `(l.owner_pid IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM pg_stat_activity a
    WHERE a.pid = l.owner_pid AND (a.backend_start = l.owner_start OR a.backend_start IS NULL)))`;

  /** Why a lease of ours is not there: a different token means someone acquired it since; ours lapsed otherwise. */
  const ending = async (lease: Lease): Promise<LeaseEnd> => {
    const { rows } = await query(`SELECT token FROM ${table} WHERE name = $1`, [lease.name]);
    const token = rows[0]?.token;
    return token !== undefined && Number(token) !== lease.token ? 'lock_lost' : 'lock_expired';
  };

  return {
    name: 'postgres',
    tryAcquire: async (name, ttl, metadata) => {
      const owner = await session.owner();
      const { rows } = await query(
        `INSERT INTO ${table} AS l (name, token, expires_at, metadata, owner_pid, owner_start)
         VALUES ($1, nextval('${sequence}'), ${ttlSql}, $3, $4, $5::timestamptz)
         ON CONFLICT (name) DO UPDATE
           SET token = nextval('${sequence}'), expires_at = ${ttlSql}, metadata = EXCLUDED.metadata,
               owner_pid = EXCLUDED.owner_pid, owner_start = EXCLUDED.owner_start
           WHERE l.expires_at <= clock_timestamp() OR ${ownerGone}
         RETURNING token`,
        [name, ttl, JSON.stringify(metadata), owner.pid, owner.start],
      );
      const token = rows[0]?.token;
      if (token === undefined) return undefined;
      const lease: Lease = { name, token: Number(token), lost: owner.lost };
      if (owner.lost.aborted) {
        // The session ended while the row was written: the row names a dead owner, so it is nobody's lease.
        await query(`UPDATE ${table} SET expires_at = '-infinity' WHERE name = $1 AND token = $2`, [
          name,
          lease.token,
        ]).catch(() => undefined);
        throw toMicroError(owner.lost.reason, 'unavailable');
      }
      return lease;
    },
    extend: async (lease, ttl) => {
      const { rowCount } = await query(
        `UPDATE ${table} SET expires_at = ${ttlSql}
         WHERE name = $1 AND token = $3 AND expires_at > clock_timestamp()`,
        [lease.name, ttl, lease.token],
      );
      return rowCount === 1 ? true : ending(lease);
    },
    release: async (lease) => {
      const { rowCount } = await query(
        `UPDATE ${table} SET expires_at = '-infinity'
         WHERE name = $1 AND token = $2 AND expires_at > clock_timestamp()`,
        [lease.name, lease.token],
      );
      return rowCount === 1 ? true : ending(lease);
    },
    inspect: async (name): Promise<Holder | undefined> => {
      const { rows } = await query(
        `SELECT token, metadata FROM ${table} AS l
         WHERE name = $1 AND expires_at > clock_timestamp() AND NOT ${ownerGone}`,
        [name],
      );
      const row = rows[0];
      return row === undefined
        ? undefined
        : { name, token: Number(row.token), metadata: (row.metadata ?? {}) as LockMetadata };
    },
    close,
  };
}

/** Creates the table and sequence if missing; concurrent creators are fine. */
async function setup(db: Queryable, table: string, sequence: string): Promise<void> {
  const statements = [
    `CREATE SEQUENCE IF NOT EXISTS ${sequence}`,
    `CREATE TABLE IF NOT EXISTS ${table} (
       name text PRIMARY KEY,
       token bigint NOT NULL,
       expires_at timestamptz NOT NULL,
       metadata jsonb NOT NULL DEFAULT '{}',
       owner_pid integer,
       owner_start timestamptz
     )`,
    // Tables made before leases recorded their owner session.
    `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS owner_pid integer, ADD COLUMN IF NOT EXISTS owner_start timestamptz`,
  ];
  for (const statement of statements) {
    try {
      await db.query(statement);
    } catch (err) {
      // Two creators at once: one of them sees a duplicate in the catalog; the object exists either way.
      const code = (err as { code?: string }).code;
      if (code !== '23505' && code !== '42P07' && code !== '42701') {
        throw new MicroError('unavailable', `could not create lock table ${table}`, { cause: err });
      }
    }
  }
}

export interface FencedUpdateOptions {
  /** The protected table. */
  table: string;
  /** Column holding the last accepted token. @default 'fence_token' */
  tokenColumn?: string;
  /** Key column. @default 'id' */
  keyColumn?: string;
  /** The row's key. */
  key: unknown;
  /** The writer's fencing token (`lock.token`). */
  token: number;
  /** Columns to set. */
  values: Record<string, unknown>;
}

/**
 * Writes a protected row only if `token` is newer than the last token that wrote it:
 * `UPDATE table SET ..., fence_token = $token WHERE id = $key AND fence_token < $token`. Answers whether the write
 * was accepted; a stale token (a paused former holder) changes nothing.
 *
 * @example
 * await locks.withLock('account-42', async (signal, lock) => {
 *   const ok = await fencedUpdate(pool, { table: 'accounts', key: 42, token: lock.token, values: { balance: 10 } });
 *   if (!ok) throw new Error('a newer holder wrote first');
 * });
 */
export async function fencedUpdate(db: Queryable, options: FencedUpdateOptions): Promise<boolean> {
  const { table, tokenColumn = 'fence_token', keyColumn = 'id', key, token, values } = options;
  for (const [field, name] of [
    ['table', table],
    ['tokenColumn', tokenColumn],
    ['keyColumn', keyColumn],
    ...Object.keys(values).map((column) => ['values', column]),
  ] as const) {
    if (typeof name !== 'string' || !identifier.test(name)) {
      throw invalidArgument(
        `invalid ${field} ${JSON.stringify(name)}: use lower-case letters, digits and '_'`,
        {
          field,
        },
      );
    }
  }
  if (!Number.isSafeInteger(token)) throw invalidArgument(`invalid token ${token}`, { field: 'token' });
  const columns = Object.keys(values);
  const sets = columns.map((column, i) => `${column} = $${i + 3}`);
  const { rowCount } = await db.query(
    `UPDATE ${table} SET ${[...sets, `${tokenColumn} = $2`].join(', ')} WHERE ${keyColumn} = $1 AND ${tokenColumn} < $2`,
    [key, token, ...columns.map((column) => values[column])],
  );
  return rowCount === 1;
}
