import { isMicroError, MicroError } from '@micro-os/core';

/** SQLSTATE classes that mean the server or connection is the problem, not the statement. */
const unavailableClasses = ['08', '53', '57'];

/** Wraps a pg error: connection problems become `unavailable`, statement errors `internal`. */
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
 * A server-side termination (`pg_terminate_backend`, shutdown) of the connection the pool handed out: the
 * statement did not run (an interrupted statement is rolled back), so it is safe to run it again on a fresh
 * connection.
 */
export function terminated(err: unknown): boolean {
  const sqlState = (err as { code?: unknown } | null)?.code;
  return sqlState === '57P01' || sqlState === '57P02';
}
