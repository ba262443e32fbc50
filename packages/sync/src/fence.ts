import { MicroError } from '@micro-os/core';

/**
 * A fencing check for a resource that lives in this process: `admit(token)` accepts only tokens above every
 * token admitted before, so a paused former holder cannot write after its successor.
 */
export class Fence {
  #highest = Number.NEGATIVE_INFINITY;

  /** The highest token admitted so far (-Infinity before the first). */
  get highest(): number {
    return this.#highest;
  }

  /** Whether `token` is newer than every token seen; when it is, it becomes the highest. */
  tryAdmit(token: number): boolean {
    if (!(token > this.#highest)) return false;
    this.#highest = token;
    return true;
  }

  /** Like `tryAdmit`, but a stale token fails with `aborted` (`details.reason: 'stale_token'`). */
  admit(token: number): void {
    if (!this.tryAdmit(token)) throw staleToken(token, this.#highest);
  }
}

/** The error for a write refused by a fencing check. */
export function staleToken(token: number, highest?: number): MicroError {
  return new MicroError(
    'aborted',
    `fencing token ${token} is stale${highest === undefined ? '' : `: token ${highest} was already admitted`}`,
    { details: { reason: 'stale_token', token, ...(highest === undefined ? {} : { highest }) } },
  );
}
