import { type Channel, MicroError, sleep } from '@micro-os/core';
import { postgresError } from '@micro-os/core/internal';
import pg from 'pg';
import { type Source, storeWatch } from './source.js';
import { type ConfigObject, isPlainObject } from './tree.js';

export interface PostgresSourceOptions {
  /** A ready pg client: queries and LISTEN run on it; it is left open. One of client, pool or url. */
  client?: pg.Client;
  /** A ready pg pool: queries run on it, LISTEN holds one of its connections while watched; left open. */
  pool?: pg.Pool;
  /** A Postgres URL; the source connects on first use and owns its connections. */
  url?: string;
  /** The table (name text primary key, value jsonb), created with its notify trigger on first use. @default 'micro_config' */
  table?: string;
  /** The row whose value is the document. */
  name: string;
  /** Connect and query timeout of owned connections, in ms. @default 5000 */
  timeout?: number;
}

/** A config source reading one row of a Postgres table. */
export interface PostgresSource extends Source {
  readonly table: string;
  readonly row: string;
  /** Upserts `doc` as the row's value (the trigger notifies every watcher). */
  write(doc: ConfigObject): Promise<void>;
}

/** Config from a jsonb row in Postgres, watched with LISTEN/NOTIFY through a trigger made on first use. */
export function postgresSource(options: PostgresSourceOptions): PostgresSource {
  const given = [options.client, options.pool, options.url].filter((v) => v !== undefined).length;
  if (given !== 1)
    throw new MicroError('invalid_argument', 'postgresSource needs exactly one of client, pool or url');
  const table = options.table ?? 'micro_config';
  if (typeof table !== 'string' || !/^[a-z_][a-z0-9_]{0,40}$/.test(table)) {
    throw new MicroError(
      'invalid_argument',
      `postgresSource table must match [a-z_][a-z0-9_]{0,40}, got ${JSON.stringify(table)}`,
    );
  }
  if (typeof options.name !== 'string' || options.name === '' || options.name.length > 1000) {
    throw new MicroError(
      'invalid_argument',
      `postgresSource name must be a string of 1 to 1000 characters, got ${JSON.stringify(options.name)}`,
    );
  }
  const timeout = options.timeout ?? 5000;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new MicroError('invalid_argument', `postgresSource timeout must be > 0 ms, got ${timeout}`);
  }
  return new PostgresConfigSource(options, table, timeout);
}

type Queryable = pg.Pool | pg.Client;

class PostgresConfigSource implements PostgresSource {
  readonly name: string;
  readonly table: string;
  readonly row: string;
  readonly #options: PostgresSourceOptions;
  readonly #timeout: number;
  readonly #watchers = new Set<Channel<ConfigObject | undefined>>();
  readonly #stop = new AbortController();
  #db: Queryable | undefined;
  #ready: Promise<void> | undefined;
  #listening: Promise<void> | undefined;
  #listener: pg.Client | pg.PoolClient | undefined;
  #detach: (() => void) | undefined;
  #closed = false;

  constructor(options: PostgresSourceOptions, table: string, timeout: number) {
    this.name = `postgres:${table}/${options.name}`;
    this.table = table;
    this.row = options.name;
    this.#options = options;
    this.#timeout = timeout;
  }

  async read(): Promise<ConfigObject> {
    const result = await this.#query<{ value: unknown }>(
      `SELECT value FROM "${this.table}" WHERE name = $1`,
      [this.row],
      'read',
    );
    const value = result.rows[0]?.value;
    if (value === undefined) return {};
    if (!isPlainObject(value)) {
      throw new MicroError(
        'invalid_argument',
        `postgres config row "${this.row}" in ${this.table} must hold a JSON object`,
        {
          details: { table: this.table, name: this.row },
        },
      );
    }
    return value;
  }

  async write(doc: ConfigObject): Promise<void> {
    await this.#query(
      `INSERT INTO "${this.table}" (name, value) VALUES ($1, $2::jsonb)
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      [this.row, JSON.stringify(doc)],
      'write',
    );
  }

  watch(signal: AbortSignal): AsyncIterable<ConfigObject | undefined> {
    return storeWatch(signal, this.#closed, this.#watchers, () => {
      this.#listening ??= this.#listen().catch((err: unknown) => {
        this.#listening = undefined;
        throw err;
      });
      return this.#listening;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    for (const watcher of [...this.#watchers]) watcher.end();
    await this.#listening?.catch(() => {});
    await this.#unlisten();
    if (this.#options.url !== undefined && this.#db !== undefined)
      await (this.#db as pg.Pool).end().catch(() => {});
  }

  #connection(): Queryable {
    if (this.#closed)
      throw new MicroError('failed_precondition', `postgres config source ${this.name} is closed`);
    if (this.#db === undefined) {
      if (this.#options.url !== undefined) {
        const pool = new pg.Pool({
          connectionString: this.#options.url,
          max: 2,
          connectionTimeoutMillis: this.#timeout,
          query_timeout: this.#timeout,
        });
        // an idle connection that dies is dropped by the pool; the next query reconnects
        pool.on('error', () => {});
        this.#db = pool;
      } else this.#db = this.#options.client ?? (this.#options.pool as pg.Pool);
    }
    return this.#db;
  }

  async #query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
    what: string,
  ): Promise<pg.QueryResult<R>> {
    const db = this.#connection();
    await this.#setup(db);
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.query<R>(text, values);
      } catch (err) {
        const error = postgresError(err, `${what} of config row "${this.row}" in ${this.table}`);
        // a pooled connection killed while idle fails once before the pool notices; the retry gets a fresh one
        if (attempt > 1 || error.code !== 'unavailable' || this.#options.client !== undefined) throw error;
      }
    }
  }

  /** Creates the table, its notify function and trigger, once, under an advisory lock (idempotent). */
  #setup(db: Queryable): Promise<void> {
    const t = this.table;
    this.#ready ??= db
      .query(
        `SELECT pg_advisory_xact_lock(hashtext('micro_config_setup:${t}'));
         CREATE TABLE IF NOT EXISTS "${t}" (
           name text PRIMARY KEY, value jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
         CREATE OR REPLACE FUNCTION "${t}_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           PERFORM pg_notify('${t}', CASE WHEN TG_OP = 'DELETE' THEN OLD.name ELSE NEW.name END);
           RETURN NULL;
         END $$;
         CREATE OR REPLACE TRIGGER "${t}_notify" AFTER INSERT OR UPDATE OR DELETE ON "${t}"
           FOR EACH ROW EXECUTE FUNCTION "${t}_notify"();`,
      )
      .then(
        () => undefined,
        (err: unknown) => {
          this.#ready = undefined;
          throw postgresError(err, `creating config table ${t}`);
        },
      );
    return this.#ready;
  }

  #notify(): void {
    for (const watcher of this.#watchers) watcher.push(undefined);
  }

  /** LISTENs on the table's channel; a lost listener connection is replaced (then watchers re-read). */
  async #listen(): Promise<void> {
    await this.#setup(this.#connection());
    const listener = await this.#openListener();
    this.#listener = listener;
    const onNotification = (message: pg.Notification): void => {
      if (message.channel === this.table && message.payload === this.row) this.#notify();
    };
    const detach = (): void => {
      listener.off('notification', onNotification);
      listener.off('error', onLost);
      listener.off('end', onLost);
    };
    const onLost = (): void => {
      detach();
      if (this.#listener !== listener) return;
      this.#listener = undefined;
      this.#detach = undefined;
      if (this.#options.pool !== undefined) (listener as pg.PoolClient).release(true);
      if (this.#closed) return;
      if (this.#options.client !== undefined) {
        const lost = new MicroError('unavailable', `the postgres client listening for ${this.name} was lost`);
        for (const watcher of [...this.#watchers]) watcher.fail(lost);
        this.#listening = undefined;
        return;
      }
      this.#notify();
      void this.#relisten();
    };
    this.#detach = detach;
    listener.on('notification', onNotification);
    listener.on('error', onLost);
    listener.on('end', onLost);
    try {
      await listener.query(`LISTEN "${this.table}"`);
    } catch (err) {
      await this.#unlisten();
      throw postgresError(err, `LISTEN for ${this.name}`);
    }
    if (this.#closed) await this.#unlisten();
  }

  async #relisten(): Promise<void> {
    while (!this.#closed) {
      try {
        await sleep(200, this.#stop.signal);
        await this.#listen();
        this.#notify();
        return;
      } catch {
        await sleep(800, this.#stop.signal).catch(() => {});
      }
    }
  }

  async #openListener(): Promise<pg.Client | pg.PoolClient> {
    try {
      if (this.#options.client !== undefined) return this.#options.client;
      if (this.#options.pool !== undefined) {
        const client = await this.#options.pool.connect();
        client.on('error', () => {});
        return client;
      }
      const client = new pg.Client({
        connectionString: this.#options.url,
        connectionTimeoutMillis: this.#timeout,
      });
      client.on('error', () => {});
      await client.connect();
      return client;
    } catch (err) {
      throw postgresError(err, `connecting the listener for ${this.name}`);
    }
  }

  async #unlisten(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    this.#detach?.();
    this.#detach = undefined;
    if (listener === undefined) return;
    if (this.#options.client !== undefined) {
      await listener.query(`UNLISTEN "${this.table}"`).catch(() => {});
    } else if (this.#options.pool !== undefined) {
      await listener.query(`UNLISTEN "${this.table}"`).catch(() => {});
      (listener as pg.PoolClient).release();
    } else await (listener as pg.Client).end().catch(() => {});
  }
}
