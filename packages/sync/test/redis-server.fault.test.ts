import { randomUUID } from 'node:crypto';
import { type Lock, lockFailure } from '@micro-os/sync';
import { redisLocks } from '@micro-os/sync/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OwnServer, ownRedis } from './servers.js';

// Faults of the Redis server itself, on a throwaway redis-server (never the shared one).
let server: OwnServer;
beforeAll(async () => {
  server = await ownRedis();
});
afterAll(async () => {
  await server.stop();
});

describe('redis server faults', () => {
  it('a paused server (SIGSTOP for 2 x ttl): every auto-extending holder aborts by its local validity; 0 overlaps', async () => {
    const ttl = 600;
    const holders = redisLocks({ url: server.url });
    const others = redisLocks({ url: server.url });
    const names = [0, 1, 2].map((i) => `paused-server-${i}-${randomUUID().slice(0, 8)}`);
    const aborts: { abortedAt: number; validUntil: number; reason: unknown }[] = [];
    const sections = names.map((name) =>
      holders
        .withLock(
          name,
          (signal, lock: Lock) =>
            new Promise<void>((resolve) => {
              signal.addEventListener('abort', () => {
                aborts.push({
                  abortedAt: Date.now(),
                  validUntil: lock.validUntil,
                  reason: lockFailure(signal.reason),
                });
                resolve();
              });
            }),
          { ttl },
        )
        .catch((err: unknown) => err),
    );
    await new Promise((r) => setTimeout(r, 300));
    server.pause();
    // Meanwhile another client tries to take every name; it cannot succeed while the server is stopped.
    const takeovers = names.map((name) =>
      others.acquire(name, { ttl: 5000, wait: 10_000 }).then((lock) => ({ lock, at: Date.now() })),
    );
    await new Promise((r) => setTimeout(r, 2 * ttl));
    server.resume();
    const taken = await Promise.all(takeovers);
    const outcomes = await Promise.all(sections);
    expect(aborts).toHaveLength(3);
    for (const abort of aborts) {
      expect(abort.reason).toBe('lock_expired');
      // The signal fires at the local validity (timer latency aside), never later.
      expect(abort.abortedAt - abort.validUntil).toBeLessThan(100);
      // 0 overlaps: every holder was told before anyone else got the lock.
      for (const t of taken) expect(abort.abortedAt).toBeLessThanOrEqual(t.at);
    }
    // withLock reports the lost lease as a typed error rather than a result.
    for (const outcome of outcomes) expect(outcome).toMatchObject({ code: 'aborted' });
    await Promise.all(taken.map((t) => t.lock.release()));
    await holders.close();
    await others.close();
  });

  it('tokens never go backwards across a restart without persistence', async () => {
    const name = `restart-${randomUUID().slice(0, 8)}`;
    const locks = redisLocks({ url: server.url });
    let highest = 0;
    for (let i = 0; i < 5; i++) {
      const lock = await locks.acquire(name, { ttl: 5000 });
      highest = Math.max(highest, lock.token);
      await lock.release();
    }
    await server.restart();
    const after = await locks.acquire(name, { ttl: 5000, wait: 5000 });
    expect(after.token).toBeGreaterThan(highest);
    await after.release();
    await locks.close();
  });
});
