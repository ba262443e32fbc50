import { isMicroError, MicroError } from '@micro-os/core';

/**
 * Wraps a driver failure as `unavailable`. The message names the operation and the driver's error code,
 * never the driver's message or the connection string, which may carry credentials.
 */
export function driverError(store: string, operation: string, err: unknown): MicroError {
  if (isMicroError(err)) return err;
  const code = (err as { code?: unknown })?.code;
  const name = err instanceof Error ? err.name : 'error';
  const what = typeof code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(code) ? code : name;
  return new MicroError('unavailable', `${store} auth store: ${operation} failed (${what})`, {
    details: { store, operation },
  });
}
