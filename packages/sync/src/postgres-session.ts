import { MicroError, toMicroError } from '@micro-os/core';
import pg from 'pg';

/** Who owns the leases of one session: its backend's pid and start time, and a signal for its end. */
export interface SessionOwner {
  readonly pid: number;
  /** `backend_start` as Postgres prints it (microseconds kept), so that a reused pid does not match. */
  readonly start: string;
  /** Aborts as soon as the session's connection fails or ends: every lease it owns is then lost. */
  readonly lost: AbortSignal;
}

/**
 * The one connection, outside the pool, whose life stands for this process's leases. Lease rows record its
 * `pg_backend_pid()` and `backend_start`; when the process dies, Postgres ends the session and the rows are free
 * at once, whatever their ttl. Connects on first use and again after a failure.
 */
export class OwnerSession {
  readonly #config: pg.ClientConfig;
  #current: Promise<{ client: pg.Client; owner: SessionOwner }> | undefined;
  #closed = false;

  constructor(config: pg.ClientConfig) {
    this.#config = config;
  }

  /** The live session's identity, connecting first if there is none. */
  async owner(): Promise<SessionOwner> {
    if (this.#closed) throw new MicroError('unavailable', 'the Postgres lock session is closed');
    this.#current ??= this.#connect();
    return (await this.#current).owner;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const current = this.#current;
    this.#current = undefined;
    const session = await current?.catch(() => undefined);
    if (session === undefined) return;
    await session.client.end().catch(() => undefined);
  }

  #connect(): Promise<{ client: pg.Client; owner: SessionOwner }> {
    // A connect that hangs (an unreachable host) fails after 10 s unless the settings give a timeout, so that a later
    // acquisition tries again rather than waiting on it for ever.
    const client = new pg.Client({
      ...this.#config,
      connectionTimeoutMillis: this.#config.connectionTimeoutMillis || 10_000,
      keepAlive: true,
    });
    const controller = new AbortController();
    const attempt = (async () => {
      await client.connect();
      const { rows } = await client.query<{ pid: number; start: string }>(
        'SELECT pid, backend_start::text AS start FROM pg_stat_activity WHERE pid = pg_backend_pid()',
      );
      const row = rows[0];
      if (row === undefined) throw new MicroError('internal', 'pg_stat_activity does not list this session');
      return { client, owner: { pid: row.pid, start: row.start, lost: controller.signal } };
    })();
    const end = (err?: unknown): void => {
      if (this.#current === session) this.#current = undefined;
      if (!controller.signal.aborted) {
        controller.abort(
          new MicroError('unavailable', 'the Postgres session that owns the leases ended', { cause: err }),
        );
      }
      client.end().catch(() => undefined);
    };
    const session = attempt.catch((err: unknown) => {
      end(err);
      throw toMicroError(err, 'unavailable');
    });
    client.on('error', end);
    client.on('end', () => end());
    return session;
  }
}
