import { isMicroError, MicroError } from './errors.js';

/** SQLSTATE classes that mean the server or connection is the problem, not the statement. */
const unavailableClasses = ['08', '53', '57'];

/**
 * Wraps a Postgres driver error: connection and server problems become `unavailable`, statement errors
 * `internal`, with the SQLSTATE in `details.sqlState`. Structural: needs no driver import.
 */
export function postgresError(err: unknown, what: string): MicroError {
  if (isMicroError(err)) return err;
  const sqlState = (err as { code?: unknown } | null)?.code;
  const statement =
    typeof sqlState === 'string' &&
    /^[0-9A-Z]{5}$/.test(sqlState) &&
    !unavailableClasses.includes(sqlState.slice(0, 2));
  const message = err instanceof Error ? err.message : String(err);
  return new MicroError(statement ? 'internal' : 'unavailable', `postgres ${what} failed: ${message}`, {
    cause: err,
    details: typeof sqlState === 'string' ? { sqlState } : {},
  });
}

/**
 * A server-side termination (`pg_terminate_backend`, shutdown) of the connection a pool handed out: the
 * statement did not run (an interrupted statement is rolled back), so it is safe to run it again.
 */
export function postgresTerminated(err: unknown): boolean {
  const sqlState = (err as { code?: unknown } | null)?.code;
  return sqlState === '57P01' || sqlState === '57P02';
}

/** Runs `run`, again on a fresh pooled connection after a termination, at most `retries` more times. */
export async function retryTerminated<T>(run: () => Promise<T>, retries: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt > retries || !postgresTerminated(err)) throw err;
    }
  }
}
