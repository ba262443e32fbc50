import {
  checkServiceName,
  isMicroError,
  MicroError,
  type RegisterOptions,
  type Registry,
  type RegistryEvent,
  type Service,
  type WatchOptions,
} from '@micro-os/core';
import pg from 'pg';
import {
  type ChangeMessage,
  checkRegistration,
  conflict,
  defaultMaxRecordBytes,
  type LiveRecord,
  lookupService,
  type NodeRecord,
  parseRecord,
  recordIdentity,
  toRecords,
  toServices,
} from './record.js';
import { Watchers } from './watch-state.js';

export interface PostgresRegistryOptions {
  /** A ready pool; the registry uses it and leaves it open. Exclusive with `url`. */
  pool?: pg.Pool;
  /** A connection string; the registry opens its own pool lazily. @default 'postgres://postgres@127.0.0.1:5432/postgres' */
  url?: string;
  /** Table holding the nodes (created if missing); also the LISTEN/NOTIFY channel. @default 'micro_registry' */
  table?: string;
  /** How often this instance deletes expired rows (and notifies watchers), ms. @default 1000 */
  sweepInterval?: number;
  /** Largest JSON size of one node's record in bytes (NOTIFY payloads stop at 8000). @default 7900 */
  maxRecordBytes?: number;
}

/**
 * A registry on Postgres: one row per node with `expires_at` (on the database clock), LISTEN/NOTIFY
 * carrying every change to watchers, and a sweeper in every instance that deletes expired rows and
 * notifies. Readers never see an expired row, swept or not.
 */
export function postgresRegistry(options: PostgresRegistryOptions = {}): Registry {
  if (options.pool !== undefined && options.url !== undefined)
    throw new MicroError('invalid_argument', 'postgresRegistry: give either pool or url, not both');
  const table = options.table ?? 'micro_registry';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(table))
    throw new MicroError('invalid_argument', `postgresRegistry: bad table name ${JSON.stringify(table)}`);
  const sweepInterval = options.sweepInterval ?? 1000;
  if (!(sweepInterval > 0))
    throw new MicroError(
      'invalid_argument',
      `postgresRegistry: sweepInterval must be > 0, got ${sweepInterval}`,
    );
  const maxRecordBytes = options.maxRecordBytes ?? defaultMaxRecordBytes;
  const owned = options.pool === undefined;
  let pool: pg.Pool | undefined = options.pool;
  let ready: Promise<void> | undefined;
  let listener: Promise<pg.PoolClient> | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let closed = false;
  const watchers = new Watchers();

  const getPool = (): pg.Pool => {
    if (closed) throw new MicroError('failed_precondition', 'postgres registry is closed');
    if (pool === undefined) {
      pool = new pg.Pool({
        connectionString: options.url ?? 'postgres://postgres@127.0.0.1:5432/postgres',
        max: 4,
        connectionTimeoutMillis: 2000,
      });
      pool.on('error', () => undefined);
    }
    return pool;
  };
  const wrap = (err: unknown, what: string): MicroError => {
    if (isMicroError(err)) return err;
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    // SQLSTATE classes 08 (connection), 57P (shutdown) and 53 (resources), or no SQLSTATE at all (socket).
    const kind = typeof code !== 'string' || /^(08|57P|53)/.test(code) ? 'unavailable' : 'internal';
    return new MicroError(kind, `postgres registry: ${what} failed: ${message}`, { cause: err });
  };

  const setup = (): Promise<void> => {
    ready ??= (async () => {
      const p = getPool();
      try {
        await p.query(`CREATE TABLE IF NOT EXISTS ${table} (
          name text NOT NULL, version text NOT NULL, node_id text NOT NULL,
          address text NOT NULL, record jsonb NOT NULL, expires_at timestamptz,
          PRIMARY KEY (name, version, node_id))`);
      } catch (err) {
        // Two instances creating the table at once: one wins, the other sees the type already there.
        if ((err as { code?: string }).code !== '23505' && (err as { code?: string }).code !== '42P07')
          throw err;
      }
      sweeper = setInterval(() => void sweep().catch(() => undefined), sweepInterval);
      sweeper.unref();
      // The LISTEN connection opens with the first use, so that a watch started later is live at once.
      void listen().catch(() => undefined);
    })();
    ready.catch(() => {
      ready = undefined;
    });
    return ready;
  };

  const sweep = async (): Promise<void> => {
    await getPool().query(
      `WITH gone AS (DELETE FROM ${table} WHERE expires_at <= now() RETURNING record)
       SELECT pg_notify($1, json_build_object('op', 'del', 'record', record)::text) FROM gone`,
      [table],
    );
  };

  const rows = async (name?: string): Promise<LiveRecord[]> => {
    await setup();
    const result = await getPool().query<{ record: NodeRecord; ttl: number | null }>(
      `SELECT record, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ttl FROM ${table}
       WHERE (expires_at IS NULL OR expires_at > now()) AND ($1::text IS NULL OR name = $1)`,
      [name ?? null],
    );
    return result.rows.map((row) => ({ record: row.record, ttl: row.ttl }));
  };

  const listen = (): Promise<pg.PoolClient> => {
    listener ??= (async () => {
      await setup();
      const client = await getPool().connect();
      client.on('error', () => undefined);
      client.on('notification', (message) => {
        if (message.channel !== table || message.payload === undefined) return;
        let change: ChangeMessage;
        try {
          change = JSON.parse(message.payload) as ChangeMessage;
          parseRecord(JSON.stringify(change.record));
        } catch {
          return;
        }
        if (change.op === 'put') watchers.put(change.record, change.ttl ?? null);
        else watchers.remove(recordIdentity(change.record), change.record);
      });
      client.on('end', () => {
        listener = undefined;
        // Back to the pool as broken, or the pool's end() in close() would wait for it forever.
        client.release(true);
        watchers.fail(new MicroError('unavailable', 'postgres registry: watch connection lost'));
      });
      await client.query(`LISTEN ${table}`);
      return client;
    })();
    listener.catch(() => {
      listener = undefined;
    });
    return listener;
  };

  const upsert = async (client: pg.PoolClient, record: NodeRecord, ttl: number | null): Promise<void> => {
    const { name, version } = record.service;
    await client.query('BEGIN');
    try {
      const current = await client.query<{ address: string }>(
        `SELECT address FROM ${table} WHERE name = $1 AND version = $2 AND node_id = $3
         AND (expires_at IS NULL OR expires_at > now()) FOR UPDATE`,
        [name, version, record.node.id],
      );
      const existing = current.rows[0]?.address;
      if (existing !== undefined && existing !== record.node.address) throw conflict(record, existing);
      await client.query(
        `INSERT INTO ${table} (name, version, node_id, address, record, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + $6::float8 * interval '1 millisecond')
         ON CONFLICT (name, version, node_id) DO UPDATE
         SET address = EXCLUDED.address, record = EXCLUDED.record, expires_at = EXCLUDED.expires_at`,
        [name, version, record.node.id, record.node.address, JSON.stringify(record), ttl],
      );
      await client.query('SELECT pg_notify($1, $2)', [table, JSON.stringify({ op: 'put', ttl, record })]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  };

  return {
    name: 'postgres',
    async register(service: Service, opts: RegisterOptions = {}) {
      checkRegistration(service, opts.ttl, { maxRecordBytes });
      try {
        await setup();
        const client = await getPool().connect();
        try {
          for (const record of toRecords(service)) await upsert(client, record, opts.ttl ?? null);
        } finally {
          client.release();
        }
      } catch (err) {
        throw wrap(err, `register ${service.name}`);
      }
    },
    async deregister(service: Service) {
      checkRegistration(service, undefined, { maxRecordBytes: Number.POSITIVE_INFINITY });
      try {
        await setup();
        await getPool().query(
          `WITH gone AS (DELETE FROM ${table} WHERE name = $1 AND version = $2 AND node_id = ANY($3::text[])
             RETURNING record)
           SELECT pg_notify($4, json_build_object('op', 'del', 'record', record)::text) FROM gone`,
          [service.name, service.version, service.nodes.map((n) => n.id), table],
        );
      } catch (err) {
        throw wrap(err, `deregister ${service.name}`);
      }
    },
    getService: (name: string) => lookupService(name, rows, wrap),
    async listServices() {
      try {
        return toServices((await rows()).map((f) => f.record));
      } catch (err) {
        throw wrap(err, 'listServices');
      }
    },
    watch(opts: WatchOptions = {}): AsyncIterable<RegistryEvent> {
      if (opts.service !== undefined) checkServiceName(opts.service);
      if (closed) throw new MicroError('failed_precondition', 'postgres registry is closed');
      const state = watchers.add(opts.service, opts.signal, () => undefined);
      listen()
        .then(() => rows(opts.service))
        .then(
          (records) => state.load(records),
          (err: unknown) => state.channel.fail(wrap(err, 'watch')),
        );
      return state.channel;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      watchers.end();
      const client = await listener?.catch(() => undefined);
      listener = undefined;
      if (client !== undefined) {
        client.removeAllListeners('end');
        client.release(true);
      }
      if (owned) await pool?.end().catch(() => undefined);
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
