import { randomUUID } from 'node:crypto';
import { requireServer } from '@micro-os/core/testing';
import type { Locks } from '@micro-os/sync';
import { fencedUpdate } from '@micro-os/sync/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackendSpec, openLocks } from './fault/backends.js';
import { createResource, inParallel, newPool, specs, startWorker, type Worker } from './fault/harness.js';

// Paused holder, the full size: 100 trials per backend, ttl 1 s, the holder stopped (SIGSTOP) for 2 s.
// Independent trials run side by side: 10 holder processes per backend, each through 10 trials in turn, each
// with its own lock names and its own row of the protected resource; the backends run side by side too.
const trials = 100;
const holders = 10;
const ttl = 1000;

const suffix = randomUUID().slice(0, 8);
const pool = newPool();
let resource: string;
const workers: Worker[] = [];
const opened: Locks[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await Promise.all([requireServer('redis'), requireServer('postgres'), requireServer('nats')]);
  resource = await createResource(pool, 3 * holders);
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

/** One trial on `holder`; the protected row `row` is this holder's alone. */
async function trial(locks: Locks, holder: Worker, row: number): Promise<void> {
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

async function run(backend: BackendSpec, firstRow: number): Promise<void> {
  const locks = await openLocks(backend);
  opened.push(locks);
  const done = await inParallel(holders, holders, async (lane) => {
    const holder = await startWorker(backend, resource);
    workers.push(holder);
    for (let i = 0; i < trials / holders; i++) await trial(locks, holder, firstRow + lane);
    holder.send({ cmd: 'exit' });
    return trials / holders;
  });
  expect(done.reduce((a, b) => a + b, 0)).toBe(trials);
}

describe.concurrent(`paused holder (SIGSTOP for 2 x ttl), ${trials} trials per backend`, () => {
  it('redis: old signal aborted, stale write rejected, release answers lock_lost', () =>
    run(specs(suffix).redis, 1));
  it('postgres: old signal aborted, stale write rejected, release answers lock_lost', () =>
    run(specs(suffix).postgres, 1 + holders));
  it('nats: old signal aborted, stale write rejected, release answers lock_lost', () =>
    run(specs(suffix).nats, 1 + 2 * holders));
});
