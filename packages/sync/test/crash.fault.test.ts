import { randomUUID } from 'node:crypto';
import { requireServer } from '@micro-os/core/testing';
import type { Locks } from '@micro-os/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackendSpec, openLocks } from './fault/backends.js';
import { createResource, inParallel, newPool, specs, startWorker, type Worker } from './fault/harness.js';

// Crashed holder (kill -9), the full size: 50 trials per backend, 4 at a time with distinct lock names,
// the backends side by side. Redis and NATS free a crashed holder's lease by expiry: free again within
// ttl + 0.5 s (ttl 1 s). Postgres frees it when the holder's session ends: within 1 s whatever the ttl, so its
// ttl here is 10 s.
const trials = 50;
const concurrency = 4;

const suffix = randomUUID().slice(0, 8);
const pool = newPool();
let resource: string;
const workers: Worker[] = [];
const opened: Locks[] = [];

beforeAll(async () => {
  await Promise.all([requireServer('redis'), requireServer('postgres'), requireServer('nats')]);
  resource = await createResource(pool, 1);
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await Promise.all(opened.map((l) => l.close()));
  await pool.query(
    `DROP TABLE IF EXISTS ${resource}, sync_fault_locks_${suffix}; DROP SEQUENCE IF EXISTS sync_fault_locks_${suffix}_token`,
  );
  await pool.end();
});

async function run(backend: BackendSpec, ttl: number, bound: number): Promise<void> {
  const locks = await openLocks(backend);
  opened.push(locks);
  const freedAfter = await inParallel(trials, concurrency, async () => {
    const holder = await startWorker(backend, resource);
    workers.push(holder);
    const name = `crash-${randomUUID().slice(0, 8)}`;
    holder.send({ cmd: 'acquire', name, ttl });
    const { token } = (await holder.next('acquired')) as unknown as { token: number };
    await holder.kill();
    const killedAt = Date.now();
    const next = await locks.acquire(name, { ttl: 5000, wait: ttl + 3000 });
    const after = Date.now() - killedAt;
    expect(next.token).toBeGreaterThan(token);
    await next.release();
    return after;
  });
  expect(freedAfter).toHaveLength(trials);
  expect(Math.max(...freedAfter)).toBeLessThanOrEqual(bound);
}

describe.concurrent(`crashed holder (kill -9), ${trials} trials per backend`, () => {
  it('redis: the lock is free again within ttl + 0.5 s', () => run(specs(suffix).redis, 1000, 1500));
  it('nats: the lock is free again within ttl + 0.5 s', () => run(specs(suffix).nats, 1000, 1500));
  it('postgres: the lock is free again within 1 s, long before its 10 s ttl', () =>
    run(specs(suffix).postgres, 10_000, 1000));
});
