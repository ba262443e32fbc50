import { randomUUID } from 'node:crypto';
import { requireServer } from '@micro-os/core/testing';
import type { Locks } from '@micro-os/sync';
import { fencedUpdate } from '@micro-os/sync/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackendSpec, openLocks } from './fault/backends.js';
import { createResource, inParallel, newPool, specs, startWorker, type Worker } from './fault/harness.js';

// Faults of the holder process, at the full size, every backend side by side (the paused trials mostly
// wait, the crash trials mostly start processes, so they share the machine well):
// - paused holder: 100 trials per backend, ttl 1 s, the holder stopped (SIGSTOP) for 2 s; 10 holder processes
//   per backend, each through 10 trials in turn, each with its own lock names and row of the protected resource;
// - crashed holder (kill -9): 50 trials per backend, 4 at a time, each on a fresh process and lock name. Redis
//   and NATS free a crashed holder's lease by expiry: free again within ttl + 0.5 s (ttl 1 s). Postgres frees it
//   when the holder's session ends: within 1 s whatever the ttl, so its ttl here is 10 s.
const paused = { trials: 100, holders: 10, ttl: 1000 };
const crash = { trials: 50, atOnce: 4 };

const suffix = randomUUID().slice(0, 8);
const pool = newPool();
let resource: string;
const workers: Worker[] = [];
const opened: Locks[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await Promise.all([requireServer('redis'), requireServer('postgres'), requireServer('nats')]);
  resource = await createResource(pool, 3 * paused.holders);
});
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGCONT');
  await Promise.all(workers.map((w) => w.kill()));
  await Promise.all(opened.map((l) => l.close()));
  await pool.query(
    `DROP TABLE IF EXISTS ${resource}, sync_fault_locks_${suffix}; DROP SEQUENCE IF EXISTS sync_fault_locks_${suffix}_token`,
  );
  await pool.end();
});

const open = async (backend: BackendSpec): Promise<Locks> => {
  const locks = await openLocks(backend);
  opened.push(locks);
  return locks;
};

const start = async (backend: BackendSpec): Promise<Worker> => {
  const worker = await startWorker(backend, resource);
  workers.push(worker);
  return worker;
};

/** One paused-holder trial on `holder`; the protected row `row` is this holder's alone. */
async function pausedTrial(locks: Locks, holder: Worker, row: number): Promise<void> {
  const { ttl } = paused;
  const name = `paused-${randomUUID().slice(0, 8)}`;
  holder.send({ cmd: 'acquire', name, ttl });
  const { token: old } = (await holder.next('acquired')) as unknown as { token: number };
  holder.child.kill('SIGSTOP');
  const stoppedAt = Date.now();
  // Another process (this one) takes the lock once the paused holder's lease runs out, and writes.
  const next = await locks.acquire(name, { ttl: 10_000, wait: 5000 });
  expect(next.token).toBeGreaterThan(old);
  expect(
    await fencedUpdate(pool, {
      table: resource,
      key: row,
      token: next.token,
      tokenColumn: 'token',
      values: {},
    }),
  ).toBe(true);
  await sleep(Math.max(0, 2 * ttl - (Date.now() - stoppedAt)));
  holder.child.kill('SIGCONT');
  // The old holder's signal is aborted and its late write is refused by the fencing check.
  holder.send({ cmd: 'write', row });
  const wrote = await holder.next('wrote');
  expect(wrote).toMatchObject({ aborted: true, reason: 'lock_expired', accepted: false });
  // Its release answers a typed lock-lost error, fast, and leaves the new holder's lease alone.
  holder.send({ cmd: 'release' });
  const released = await holder.next('released');
  expect(released.error).toMatchObject({ code: 'aborted', reason: 'lock_lost' });
  expect(released.took as number).toBeLessThan(1000);
  expect((await locks.inspect(name))?.token).toBe(next.token);
  await next.release();
}

async function pausedHolder(backend: BackendSpec, firstRow: number): Promise<void> {
  const locks = await open(backend);
  const perHolder = paused.trials / paused.holders;
  const done = await inParallel(paused.holders, paused.holders, async (lane) => {
    const holder = await start(backend);
    for (let i = 0; i < perHolder; i++) await pausedTrial(locks, holder, firstRow + lane);
    holder.send({ cmd: 'exit' });
    return perHolder;
  });
  expect(done.reduce((a, b) => a + b, 0)).toBe(paused.trials);
}

async function crashedHolder(backend: BackendSpec, ttl: number, bound: number): Promise<void> {
  const locks = await open(backend);
  const freedAfter = await inParallel(crash.trials, crash.atOnce, async () => {
    const holder = await start(backend);
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
  expect(freedAfter).toHaveLength(crash.trials);
  expect(Math.max(...freedAfter)).toBeLessThanOrEqual(bound);
}

const timeout = 300_000;
const { holders } = paused;

describe.concurrent('holder process faults', () => {
  describe(`paused holder (SIGSTOP for 2 x ttl), ${paused.trials} trials per backend`, () => {
    it('redis: old signal aborted, stale write rejected, release answers lock_lost', { timeout }, () =>
      pausedHolder(specs(suffix).redis, 1),
    );
    it('postgres: old signal aborted, stale write rejected, release answers lock_lost', { timeout }, () =>
      pausedHolder(specs(suffix).postgres, 1 + holders),
    );
    it('nats: old signal aborted, stale write rejected, release answers lock_lost', { timeout }, () =>
      pausedHolder(specs(suffix).nats, 1 + 2 * holders),
    );
  });

  describe(`crashed holder (kill -9), ${crash.trials} trials per backend`, () => {
    it('redis: the lock is free again within ttl + 0.5 s', { timeout }, () =>
      crashedHolder(specs(suffix).redis, 1000, 1500),
    );
    it('nats: the lock is free again within ttl + 0.5 s', { timeout }, () =>
      crashedHolder(specs(suffix).nats, 1000, 1500),
    );
    it('postgres: the lock is free again within 1 s, long before its 10 s ttl', { timeout }, () =>
      crashedHolder(specs(suffix).postgres, 10_000, 1000),
    );
  });
});
