import { MicroError, toMicroError } from '@micro-os/core';
import type { Lease, LeaseBackend, LeaseEnd } from './lease.js';
import { lockExpired, lockFailure, lockLost, lockReleased } from './lock-errors.js';
import type { Lock } from './types.js';

/** How long a release or cleanup may take before it answers `deadline_exceeded`, at least. */
const minReleaseTimeout = 1000;

export interface HeldLockOptions<L extends Lease> {
  backend: LeaseBackend<L>;
  lease: L;
  ttl: number;
  validUntil: number;
  /** The drift margin deducted from each new validity, for a given ttl. */
  drift: (ttl: number) => number;
  /** Checks an extend() ttl. */
  checkTtl: (ttl: unknown) => number;
}

/** The `Lock` every backend returns: local validity, the signal, typed failures. */
export class HeldLock<L extends Lease> implements Lock {
  readonly name: string;
  readonly token: number;
  readonly #controller = new AbortController();
  readonly #options: HeldLockOptions<L>;
  #validUntil: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HeldLockOptions<L>) {
    this.#options = options;
    this.name = options.lease.name;
    this.token = options.lease.token;
    this.#validUntil = options.validUntil;
    this.#schedule();
  }

  /** Reading it checks the local validity first, so it is aborted as soon as the lease has run out. */
  get signal(): AbortSignal {
    if (!this.#controller.signal.aborted && Date.now() >= this.#validUntil) {
      this.#end(lockExpired(this.name, this.token));
    }
    return this.#controller.signal;
  }

  get validUntil(): number {
    return this.#validUntil;
  }

  async extend(ttl?: number): Promise<void> {
    const duration = ttl === undefined ? this.#options.ttl : this.#options.checkTtl(ttl);
    if (this.signal.aborted) throw this.#reason();
    const start = Date.now();
    const outcome = await this.#race(this.#options.backend.extend(this.#options.lease, duration));
    if (this.signal.aborted) throw this.#reason();
    if (outcome !== true) throw this.#end(this.#failure(outcome));
    this.#validUntil = start + duration - this.#options.drift(duration);
    this.#schedule();
  }

  async release(): Promise<void> {
    if (this.signal.aborted) {
      const reason = this.#reason();
      if (lockFailure(reason) === 'released') throw lockReleased(this.name, this.token);
      // Lost or expired: clean up our own entry if the server still has it, never another holder's.
      const outcome = await this.#bounded(this.#options.backend.release(this.#options.lease)).catch(
        () => undefined,
      );
      throw outcome === 'lock_lost' ? lockLost(this.name, this.token) : reason;
    }
    let outcome: true | LeaseEnd;
    try {
      outcome = await this.#bounded(this.#options.backend.release(this.#options.lease));
    } catch (err) {
      throw this.#end(toMicroError(err, 'unavailable'));
    }
    if (outcome !== true) throw this.#end(this.#failure(outcome));
    if (Date.now() >= this.#validUntil) throw this.#end(lockExpired(this.name, this.token));
    this.#end(lockReleased(this.name, this.token));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.signal.aborted && lockFailure(this.signal.reason) === 'released') return;
    await this.release();
  }

  #failure(outcome: LeaseEnd): MicroError {
    return outcome === 'lock_lost' ? lockLost(this.name, this.token) : lockExpired(this.name, this.token);
  }

  #reason(): MicroError {
    return toMicroError(this.signal.reason, 'aborted');
  }

  #end(reason: MicroError): MicroError {
    clearTimeout(this.#timer);
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
    return reason;
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#end(lockExpired(this.name, this.token)),
      this.#validUntil - Date.now(),
    );
    this.#timer.unref();
  }

  /** Settles as `promise` does, or rejects as soon as the lock's signal aborts (for example when it expires). */
  #race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(this.#reason());
      this.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          this.signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (err: unknown) => {
          this.signal.removeEventListener('abort', onAbort);
          reject(toMicroError(err, 'unavailable'));
        },
      );
    });
  }

  /** Settles as `promise` does, or fails with `deadline_exceeded` after the remaining validity (at least 1 s). */
  #bounded<T>(promise: Promise<T>): Promise<T> {
    const ms = Math.max(minReleaseTimeout, this.#validUntil - Date.now());
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new MicroError(
              'deadline_exceeded',
              `release of lock "${this.name}" got no answer within ${ms} ms`,
              {
                details: { name: this.name, token: this.token },
              },
            ),
          ),
        ms,
      );
      timer.unref();
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(toMicroError(err, 'unavailable'));
        },
      );
    });
  }
}
