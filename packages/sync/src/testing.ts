import { randomUUID } from 'node:crypto';
import { isMicroError } from '@micro-os/core';
import { afterAll, describe, expect, it } from 'vitest';
import { lockFailure } from './lock-errors.js';
import type { Lock, Locks } from './types.js';

export { type ElectionSuiteOptions, electionSuite } from './election-suite.js';

export interface LocksSuiteOptions {
  /**
   * A `Locks` client. Called several times to stand for separate processes: every call must reach the same
   * lock state (the same server, or one shared in-memory instance). The suite closes each one.
   */
  create: () => Promise<Locks> | Locks;
}

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const reasonOf = async (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => 'resolved',
    (err: unknown) => err,
  );

/** The behaviour of `Locks`, written once and run against every backend. */
export function locksSuite(name: string, options: LocksSuiteOptions): void {
  describe(`Locks conformance: ${name}`, () => {
    const made: Locks[] = [];
    const make = async (): Promise<Locks> => {
      const locks = await options.create();
      made.push(locks);
      return locks;
    };
    afterAll(async () => {
      await Promise.all(made.map((l) => l.close()));
    });

    it('acquire returns a held lock with name, token and a live signal, and release frees it', async () => {
      const locks = await make();
      const key = unique('basic');
      const lock = await locks.acquire(key, { ttl: 5000, metadata: { node: 'a' } });
      expect(lock.name).toBe(key);
      expect(Number.isSafeInteger(lock.token)).toBe(true);
      expect(lock.signal.aborted).toBe(false);
      expect(await locks.inspect(key)).toEqual({ name: key, token: lock.token, metadata: { node: 'a' } });
      await lock.release();
      expect(lock.signal.aborted).toBe(true);
      expect(lockFailure(lock.signal.reason)).toBe('released');
      expect(await locks.inspect(key)).toBeUndefined();
    });

    it('wait: 0 tries once and fails with deadline_exceeded (acquire_timeout) while another holds it', async () => {
      const [a, b] = [await make(), await make()];
      const key = unique('once');
      const held = await a.acquire(key, { ttl: 5000 });
      const started = Date.now();
      const err = await reasonOf(b.acquire(key, { wait: 0 }));
      expect(isMicroError(err, 'deadline_exceeded')).toBe(true);
      expect(lockFailure(err)).toBe('acquire_timeout');
      expect(Date.now() - started).toBeLessThan(1000);
      await held.release();
    });

    it('waits with retries until the holder releases', async () => {
      const [a, b] = [await make(), await make()];
      const key = unique('handoff');
      const held = await a.acquire(key, { ttl: 5000 });
      setTimeout(() => void held.release(), 300);
      const next = await b.acquire(key, { wait: 5000 });
      expect(next.token).toBeGreaterThan(held.token);
      expect(held.signal.aborted).toBe(true);
      await next.release();
    });

    it('gives up with deadline_exceeded when the wait ends first', async () => {
      const [a, b] = [await make(), await make()];
      const key = unique('timeout');
      const held = await a.acquire(key, { ttl: 5000 });
      const started = Date.now();
      const err = await reasonOf(b.acquire(key, { wait: 400 }));
      const took = Date.now() - started;
      expect(lockFailure(err)).toBe('acquire_timeout');
      expect(isMicroError(err, 'deadline_exceeded')).toBe(true);
      expect(took).toBeGreaterThanOrEqual(350);
      expect(took).toBeLessThan(2000);
      await held.release();
    });

    it('an aborted signal stops the wait with aborted', async () => {
      const [a, b] = [await make(), await make()];
      const key = unique('abort');
      const held = await a.acquire(key, { ttl: 5000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 150);
      const err = await reasonOf(b.acquire(key, { wait: 5000, signal: controller.signal }));
      expect(isMicroError(err, 'aborted')).toBe(true);
      await held.release();
      expect(await b.inspect(key)).toBeUndefined();
    });

    it('tokens strictly increase across acquisitions from separate clients', async () => {
      const [a, b] = [await make(), await make()];
      const key = unique('tokens');
      const tokens: number[] = [];
      for (let i = 0; i < 10; i++) {
        const lock = await (i % 2 === 0 ? a : b).acquire(key, { ttl: 5000 });
        tokens.push(lock.token);
        await lock.release();
      }
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as number);
    });

    it('keeps concurrent holders mutually exclusive', async () => {
      const clients = [await make(), await make(), await make()];
      const key = unique('mutex');
      let inside = 0;
      let overlaps = 0;
      await Promise.all(
        clients.map(async (locks) => {
          for (let i = 0; i < 8; i++) {
            await locks.withLock(
              key,
              async () => {
                inside += 1;
                if (inside > 1) overlaps += 1;
                await delay(Math.random() * 5);
                inside -= 1;
              },
              { ttl: 5000, wait: 15_000 },
            );
          }
        }),
      );
      expect(overlaps).toBe(0);
    });

    it('release of a released lock fails with aborted and never succeeds silently', async () => {
      const locks = await make();
      const lock = await locks.acquire(unique('twice'), { ttl: 5000 });
      await lock.release();
      const err = await reasonOf(lock.release());
      expect(isMicroError(err, 'aborted')).toBe(true);
      expect(lockFailure(err)).toBe('released');
    });

    it('a lease that is not extended expires: signal aborts, release and extend answer lock_expired fast', async () => {
      const locks = await make();
      const key = unique('expire');
      const lock = await locks.acquire(key, { ttl: 300 });
      await delay(600);
      expect(lock.signal.aborted).toBe(true);
      expect(lockFailure(lock.signal.reason)).toBe('lock_expired');
      let started = Date.now();
      const released = await reasonOf(lock.release());
      expect(Date.now() - started).toBeLessThan(1000);
      expect(isMicroError(released, 'aborted')).toBe(true);
      expect(lockFailure(released)).toBe('lock_expired');
      started = Date.now();
      const extended = await reasonOf(lock.extend());
      expect(Date.now() - started).toBeLessThan(1000);
      expect(lockFailure(extended)).toBe('lock_expired');
      const again = await locks.acquire(key, { wait: 0 });
      await again.release();
    });

    it('release after another holder took over answers lock_lost and leaves the new lease alone', async () => {
      const [a, b] = [await make(), await make()];
      const key = unique('lost');
      const old = await a.acquire(key, { ttl: 300 });
      const next = await b.acquire(key, { ttl: 5000, wait: 3000 });
      expect(next.token).toBeGreaterThan(old.token);
      const err = await reasonOf(old.release());
      expect(isMicroError(err, 'aborted')).toBe(true);
      expect(lockFailure(err)).toBe('lock_lost');
      expect((await b.inspect(key))?.token).toBe(next.token);
      const extend = await reasonOf(old.extend(5000));
      expect(isMicroError(extend, 'aborted')).toBe(true);
      expect((await b.inspect(key))?.token).toBe(next.token);
      await next.release();
    });

    it('extend keeps the lease past its first ttl', async () => {
      const [a, b] = [await make(), await make()];
      const key = unique('extend');
      const lock = await a.acquire(key, { ttl: 500 });
      for (let i = 0; i < 4; i++) {
        await delay(200);
        await lock.extend(500);
      }
      expect(lock.signal.aborted).toBe(false);
      expect(lockFailure(await reasonOf(b.acquire(key, { wait: 0 })))).toBe('acquire_timeout');
      await lock.release();
    });

    it('returns no lock with less validity left than the drift margin', async () => {
      const locks = await make();
      const lock = await locks.acquire(unique('validity'), { ttl: 1000 });
      expect(lock.validUntil - Date.now()).toBeGreaterThan(1000 * 0.01 + 2);
      expect(lock.validUntil).toBeLessThanOrEqual(Date.now() + 1000);
      await lock.release();
    });

    it('withLock extends while fn runs, passes the signal, and releases afterwards', async () => {
      const [a, b] = [await make(), await make()];
      const key = unique('with');
      let seen: AbortSignal | undefined;
      const result = await a.withLock(
        key,
        async (signal, lock) => {
          seen = signal;
          expect(lock.signal).toBe(signal);
          await delay(1200);
          expect(signal.aborted).toBe(false);
          expect(lockFailure(await reasonOf(b.acquire(key, { wait: 0 })))).toBe('acquire_timeout');
          return 42;
        },
        { ttl: 500 },
      );
      expect(result).toBe(42);
      expect(seen?.aborted).toBe(true);
      expect(await b.inspect(key)).toBeUndefined();
    });

    it('withLock releases when fn throws and rethrows its error', async () => {
      const locks = await make();
      const key = unique('throws');
      const err = await reasonOf(
        locks.withLock(key, () => {
          throw new RangeError('boom');
        }),
      );
      expect(err).toBeInstanceOf(RangeError);
      expect(await locks.inspect(key)).toBeUndefined();
    });

    it('await using releases at the end of the scope', async () => {
      const locks = await make();
      const key = unique('using');
      let signal: AbortSignal | undefined;
      {
        await using lock: Lock = await locks.acquire(key, { ttl: 5000 });
        signal = lock.signal;
      }
      expect(signal?.aborted).toBe(true);
      expect(await locks.inspect(key)).toBeUndefined();
    });

    it('rejects bad input with invalid_argument naming the field', async () => {
      const locks = await make();
      const field = async (promise: Promise<unknown>): Promise<unknown> => {
        const err = await reasonOf(promise);
        expect(isMicroError(err, 'invalid_argument')).toBe(true);
        return isMicroError(err) ? err.details.field : undefined;
      };
      expect(await field(locks.acquire(''))).toBe('name');
      expect(await field(locks.acquire('x'.repeat(201)))).toBe('name');
      expect(await field(locks.acquire('a b'))).toBe('name');
      for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 10 ** 12]) {
        expect(await field(locks.acquire('ok', { ttl }))).toBe('ttl');
      }
      expect(await field(locks.acquire('ok', { wait: -1 }))).toBe('wait');
      expect(await field(locks.withLock('ok', () => 1, { ttl: 1000, renewInterval: 1000 }))).toBe(
        'renewInterval',
      );
    });
  });
}
