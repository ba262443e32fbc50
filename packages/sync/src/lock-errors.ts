import { isMicroError, MicroError } from '@micro-os/core';

/** Why a lock operation failed, in `MicroError.details.reason`. */
export type LockFailure = 'acquire_timeout' | 'lock_lost' | 'lock_expired' | 'released' | 'stale_token';

/** The wait ended while another holder kept the lock: `deadline_exceeded`. */
export function acquireTimeout(name: string, wait: number, cause?: unknown): MicroError {
  const why =
    cause === undefined ? 'is held elsewhere' : 'could not be acquired (the backend did not answer)';
  return new MicroError('deadline_exceeded', `lock "${name}" ${why}; gave up after waiting ${wait} ms`, {
    details: { reason: 'acquire_timeout', name, wait },
    cause,
  });
}

/** Another holder took the lease over, or (with a `cause`) the backend dropped it: `aborted`. */
export function lockLost(name: string, token: number, cause?: unknown): MicroError {
  const why = cause === undefined ? 'another holder has it' : 'the backend dropped it';
  return new MicroError('aborted', `lock "${name}" (token ${token}) was lost: ${why}`, {
    details: { reason: 'lock_lost', name, token },
    cause,
  });
}

/** The lease ran out before it was extended: `aborted`. */
export function lockExpired(name: string, token: number): MicroError {
  return new MicroError(
    'aborted',
    `lock "${name}" (token ${token}) expired before it was extended or released`,
    {
      details: { reason: 'lock_expired', name, token },
    },
  );
}

/** The holder released the lease itself: `aborted`. */
export function lockReleased(name: string, token: number): MicroError {
  return new MicroError('aborted', `lock "${name}" (token ${token}) was already released`, {
    details: { reason: 'released', name, token },
  });
}

/** Reads `details.reason` of a lock error. */
export function lockFailure(err: unknown): LockFailure | undefined {
  if (!isMicroError(err)) return undefined;
  const reason = err.details.reason;
  return typeof reason === 'string' ? (reason as LockFailure) : undefined;
}
