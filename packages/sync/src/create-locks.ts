import { abortError, invalidArgument, MicroError, sleep, toMicroError } from '@micro-os/core';
import { HeldLock } from './held-lock.js';
import { keepAlive } from './keep-alive.js';
import type { Lease, LeaseBackend } from './lease.js';
import { acquireTimeout } from './lock-errors.js';
import {
  checkDuration,
  checkMetadata,
  checkName,
  checkRenewInterval,
  checkTtl,
  checkWait,
  defaultTtl,
  defaultWait,
} from './options.js';
import type { AcquireOptions, Holder, Lock, Locks, WithLockOptions } from './types.js';

export interface LocksOptions {
  /** Default lease length in ms. @default 10000 */
  ttl?: number;
  /** Default time to keep retrying in ms; `0` tries once. @default 10000 */
  wait?: number;
  /**
   * Clock drift allowed, as a fraction of the ttl: each lease is trusted for `ttl - ttl * driftFactor - 2` ms from
   * before its request was sent, and an acquisition with less validity left than that margin is given back.
   * @default 0.01
   */
  driftFactor?: number;
  /** First retry delay in ms; later ones double up to `retryMaxDelay`, each jittered by +-50 %. @default 5 */
  retryDelay?: number;
  /** Largest retry delay in ms. @default 100 */
  retryMaxDelay?: number;
}

/** Builds `Locks` on a backend that knows single attempts; every backend factory calls this. */
export function createLocks<L extends Lease>(backend: LeaseBackend<L>, options: LocksOptions = {}): Locks {
  const ttlDefault = options.ttl === undefined ? defaultTtl : checkTtl(options.ttl);
  const waitDefault = options.wait === undefined ? defaultWait : checkWait(options.wait);
  const driftFactor = options.driftFactor ?? 0.01;
  if (typeof driftFactor !== 'number' || !(driftFactor >= 0 && driftFactor < 0.5)) {
    throw invalidArgument(`invalid driftFactor ${String(driftFactor)}: must be in [0, 0.5)`, {
      field: 'driftFactor',
    });
  }
  const retryDelay =
    options.retryDelay === undefined ? 5 : checkDuration('retryDelay', options.retryDelay, 0, 60_000);
  const retryMaxDelay =
    options.retryMaxDelay === undefined
      ? 100
      : checkDuration('retryMaxDelay', options.retryMaxDelay, 0, 60_000);
  const drift = (ttl: number): number => Math.ceil(ttl * driftFactor) + 2;
  const delay = (attempt: number): number =>
    Math.min(retryMaxDelay, retryDelay * 2 ** Math.min(attempt - 1, 16)) * (0.5 + Math.random());
  let closed = false;

  /** One attempt, bounded by the ttl (a slower answer would be useless) and the caller's signal. */
  const attempt = async (
    name: string,
    ttl: number,
    metadata: Record<string, string>,
    signal?: AbortSignal,
  ) => {
    const start = Date.now();
    const pending = backend.tryAcquire(name, ttl, metadata);
    let lease: L | undefined;
    try {
      lease = await bounded(pending, ttl, signal, `acquire of lock "${name}"`);
    } catch (err) {
      // A late success must not leave a lease behind.
      pending.then((late) => (late === undefined ? undefined : backend.release(late))).catch(() => undefined);
      if (signal?.aborted) throw abortError(signal, `acquire of lock "${name}"`);
      const error = toMicroError(err, 'unavailable');
      if (error.code !== 'unavailable' && error.code !== 'deadline_exceeded') throw error;
      return error;
    }
    if (lease === undefined) return undefined;
    const validUntil = start + ttl - drift(ttl);
    if (validUntil - Date.now() < drift(ttl)) {
      // Took so long that the lease is nearly gone already: give it back rather than return an expired lock.
      await backend.release(lease).catch(() => undefined);
      return undefined;
    }
    return new HeldLock({ backend, lease, ttl, validUntil, drift, checkTtl: (value) => checkTtl(value) });
  };

  const acquire = async (name: string, opts: AcquireOptions = {}): Promise<Lock> => {
    checkName(name);
    const ttl = opts.ttl === undefined ? ttlDefault : checkTtl(opts.ttl);
    const wait = opts.wait === undefined ? waitDefault : checkWait(opts.wait);
    const metadata = checkMetadata(opts.metadata);
    if (closed) throw invalidArgument(`locks (${backend.name}) are closed`, { field: 'locks' });
    const { signal } = opts;
    const deadline = Date.now() + wait;
    let failure: MicroError | undefined;
    for (let n = 1; ; n++) {
      if (signal?.aborted) throw abortError(signal, `acquire of lock "${name}"`);
      const outcome = await attempt(name, ttl, metadata, signal);
      if (outcome instanceof HeldLock) return outcome;
      // A server that did not answer is retried like a held lock until the wait ends; the last failure is the cause.
      if (outcome !== undefined) failure = outcome;
      const left = deadline - Date.now();
      if (left <= 0) throw acquireTimeout(name, wait, failure);
      await sleep(Math.min(left, delay(n)), signal);
    }
  };

  const withLock = async <T>(
    name: string,
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    opts: WithLockOptions = {},
  ): Promise<T> => {
    const ttl = opts.ttl === undefined ? ttlDefault : checkTtl(opts.ttl);
    const interval =
      opts.renewInterval === undefined
        ? Math.max(1, Math.floor(ttl / 3))
        : checkRenewInterval(opts.renewInterval, ttl);
    const lock = await acquire(name, { ...opts, ttl });
    const renewal = keepAlive(lock, ttl, interval);
    let result: T;
    try {
      result = await fn(lock.signal, lock);
    } catch (err) {
      await renewal.stop();
      // fn's failure is the one to report; the lease expires by itself if this release cannot reach the server.
      await lock.release().catch(() => undefined);
      throw err;
    }
    await renewal.stop();
    await lock.release();
    return result;
  };

  const inspect = async (name: string): Promise<Holder | undefined> => backend.inspect(checkName(name));

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await backend.close();
  };

  return { backend: backend.name, acquire, withLock, inspect, close, [Symbol.asyncDispose]: close };
}

/** Settles as `promise` does, or fails after `ms` (`deadline_exceeded`) or when `signal` aborts: one timer, no controller. */
function bounded<T>(
  promise: Promise<T>,
  ms: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal, what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      reject(new MicroError('deadline_exceeded', `${what} got no answer within ${ms} ms`));
    }, ms);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
