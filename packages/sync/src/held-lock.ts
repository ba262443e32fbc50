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

type Reason = MicroError | (() => MicroError);

/**
 * The `Lock` every backend returns: local validity, the signal, typed failures. The signal (and the timer that
 * aborts it at the end of the validity) is made on first read, so a plain acquire/release pays for neither.
 */
export class HeldLock<L extends Lease> implements Lock {
  readonly name: string;
  readonly token: number;
  readonly #options: HeldLockOptions<L>;
  #controller: AbortController | undefined;
  #ended: Reason | undefined;
  #validUntil: number;
  #timer: NodeJS.Timeout | undefined;
  /** Listens to the lease's `lost` signal while someone holds this lock's signal. */
  #onLost: (() => void) | undefined;

  constructor(options: HeldLockOptions<L>) {
    this.#options = options;
    this.name = options.lease.name;
    this.token = options.lease.token;
    this.#validUntil = options.validUntil;
  }

  /** Reading it checks the local validity first, so it is aborted as soon as the lease has run out. */
  get signal(): AbortSignal {
    const ended = this.#over();
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (ended) this.#controller.abort(this.#reason());
      else {
        this.#schedule();
        const lost = this.#options.lease.lost;
        if (lost !== undefined) {
          this.#onLost = () => this.#end(this.#lost());
          lost.addEventListener('abort', this.#onLost, { once: true });
        }
      }
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
    if (this.#over()) throw this.#reason();
    if (outcome !== true) throw this.#end(this.#failure(outcome));
    this.#validUntil = start + duration - this.#options.drift(duration);
    this.#schedule();
  }

  async release(): Promise<void> {
    if (this.#over()) {
      const reason = this.#reason();
      if (lockFailure(reason) === 'released') throw lockReleased(this.name, this.token);
      // Lost or expired: clean up our own entry if the server still has it, never another holder's.
      const outcome = await this.#bounded(this.#options.backend.release(this.#options.lease)).catch(
        () => undefined,
      );
      throw outcome === 'lock_lost' ? lockLost(this.name, this.token) : reason;
    }
    // The request goes out first; the holder gives the lease up at once: its signal aborts before the backend
    // answers, so that nobody sees the next holder's lock while this one still looks held. A failed release
    // records why, for a later call to report.
    const pending = this.#options.backend.release(this.#options.lease);
    this.#end(() => lockReleased(this.name, this.token));
    const failed = (reason: MicroError): MicroError => {
      this.#ended = reason;
      return reason;
    };
    let outcome: true | LeaseEnd;
    try {
      outcome = await this.#bounded(pending);
    } catch (err) {
      throw failed(toMicroError(err, 'unavailable'));
    }
    if (outcome !== true) throw failed(this.#failure(outcome));
    if (Date.now() >= this.#validUntil) throw failed(lockExpired(this.name, this.token));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#over() && lockFailure(this.#reason()) === 'released') return;
    await this.release();
  }

  #failure(outcome: LeaseEnd): MicroError {
    return outcome === 'lock_lost' ? lockLost(this.name, this.token) : lockExpired(this.name, this.token);
  }

  /** Whether the lease is over (released, lost, or past its validity, which ends it now). */
  #over(): boolean {
    if (this.#ended === undefined) {
      if (this.#options.lease.lost?.aborted) this.#end(this.#lost());
      else if (Date.now() >= this.#validUntil) this.#end(lockExpired(this.name, this.token));
    }
    return this.#ended !== undefined;
  }

  /** The backend dropped the lease (its `lost` signal aborted). */
  #lost(): MicroError {
    return lockLost(this.name, this.token, this.#options.lease.lost?.reason);
  }

  #reason(): MicroError {
    if (typeof this.#ended === 'function') this.#ended = this.#ended();
    return this.#ended ?? new MicroError('internal', `lock "${this.name}" has not ended`);
  }

  #end(reason: MicroError): MicroError;
  #end(reason: () => MicroError): undefined;
  #end(reason: Reason): MicroError | undefined {
    clearTimeout(this.#timer);
    if (this.#onLost !== undefined) {
      this.#options.lease.lost?.removeEventListener('abort', this.#onLost);
      this.#onLost = undefined;
    }
    if (this.#ended === undefined) {
      this.#ended = reason;
      if (this.#controller !== undefined && !this.#controller.signal.aborted)
        this.#controller.abort(this.#reason());
    }
    return typeof reason === 'function' ? undefined : reason;
  }

  /** Aborts the signal when the validity runs out; only needed once someone holds the signal. */
  #schedule(): void {
    if (this.#controller === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(
      () => this.#end(lockExpired(this.name, this.token)),
      this.#validUntil - Date.now(),
    );
    this.#timer.unref();
  }

  /** Settles as `promise` does, or rejects as soon as the lock's signal aborts (for example when it expires). */
  #race<T>(promise: Promise<T>): Promise<T> {
    const signal = this.signal;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(this.#reason());
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
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
