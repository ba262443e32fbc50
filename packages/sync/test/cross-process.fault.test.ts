import { randomUUID } from 'node:crypto';
import { requireServer } from '@micro-os/core/testing';
import type { Locks } from '@micro-os/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackendSpec, openLocks } from './fault/backends.js';
import { createResource, inParallel, newPool, specs, startWorker, type Worker } from './fault/harness.js';
import { type OwnServer, ownRedis } from './servers.js';

// Faults across processes at the full size, all side by side (the mutual-exclusion runs mostly wait on
// their critical sections, the crash trials mostly start processes, so they share the machine well):
// - mutual exclusion: 2 processes x 5,000 acquisitions each on one name per backend, holding 0-10 ms at random.
//   Every critical section writes the protected Postgres row with `UPDATE ... WHERE token < $new` and logs
//   (pid, token, enter, exit);
// - crashed holder (kill -9): 50 trials per backend, 4 at a time, each on a fresh process and lock name. Redis
//   and NATS free a crashed holder's lease by expiry: free again within ttl + 0.5 s (ttl 1 s). Postgres frees it
//   when the holder's session ends: within 1 s whatever the ttl, so its ttl here is 10 s.
const perProcess = 5000;
const crash = { trials: 50, atOnce: 4 };
const timeout = 400_000;

const suffix = randomUUID().slice(0, 8);
const pool = newPool();
let resource: string;
const quorum: OwnServer[] = [];
const workers: Worker[] = [];
const opened: Locks[] = [];

beforeAll(async () => {
  await Promise.all([requireServer('redis'), requireServer('postgres'), requireServer('nats')]);
  resource = await createResource(pool, 4);
  quorum.push(...(await Promise.all([ownRedis(), ownRedis(), ownRedis()])));
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await Promise.all(opened.map((l) => l.close()));
  await pool.query(
    `DROP TABLE IF EXISTS ${resource}, sync_fault_locks_${suffix}; DROP SEQUENCE IF EXISTS sync_fault_locks_${suffix}_token`,
  );
  await pool.end();
  await Promise.all(quorum.map((s) => s.stop()));
});

type Section = [token: number, enter: number, exit: number, accepted: boolean];

async function run(backend: BackendSpec, row: number): Promise<void> {
  const pair = await Promise.all([startWorker(backend, resource), startWorker(backend, resource)]);
  workers.push(...pair);
  const name = `mutex-${randomUUID().slice(0, 8)}`;
  for (const w of pair) w.send({ cmd: 'mutex', name, row, count: perProcess, ttl: 5000 });
  const results = await Promise.all(pair.map((w) => w.next('mutex', timeout)));
  const sections = results
    .flatMap((r) =>
      (r.sections as Section[]).map(([token, enter, exit, accepted]) => ({
        pid: r.pid,
        token,
        enter,
        exit,
        accepted,
      })),
    )
    .sort((a, b) => a.enter - b.enter);
  expect(sections).toHaveLength(2 * perProcess);
  let overlaps = 0;
  let backwards = 0;
  let staleAccepted = 0;
  let highestAccepted = 0;
  for (let i = 1; i < sections.length; i++) {
    const [prev, cur] = [sections[i - 1], sections[i]] as const;
    if (prev === undefined || cur === undefined) continue;
    if (cur.enter < prev.exit) overlaps += 1;
    if (cur.token <= prev.token) backwards += 1;
  }
  for (const s of sections) {
    if (s.accepted && s.token <= highestAccepted) staleAccepted += 1;
    if (s.accepted) highestAccepted = Math.max(highestAccepted, s.token);
  }
  expect({ overlaps, backwards, staleAccepted }).toEqual({ overlaps: 0, backwards: 0, staleAccepted: 0 });
  expect(sections.every((s) => s.accepted)).toBe(true);
  // Both processes got turns.
  expect(new Set(sections.map((s) => s.pid)).size).toBe(2);
  const { rows } = await pool.query(`SELECT token FROM ${resource} WHERE id = $1`, [row]);
  expect(Number(rows[0]?.token)).toBe(sections.at(-1)?.token);
  for (const w of pair) w.send({ cmd: 'exit' });
}

/** Crashes `crash.trials` holders of `backend`; answers how long after each kill the lock was free again, in ms. */
async function crashedHolders(backend: BackendSpec, ttl: number): Promise<number[]> {
  const locks = await openLocks(backend);
  opened.push(locks);
  return inParallel(crash.trials, crash.atOnce, async () => {
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
}

// One test for the three crash runs: the mutual-exclusion tests take four of vitest's five concurrent slots.
describe.concurrent('faults across processes', () => {
  it(`crashed holder (kill -9), ${crash.trials} trials per backend: free again within ttl + 0.5 s (redis, nats), within 1 s (postgres, ttl 10 s)`, {
    timeout,
  }, async () => {
    const { redis, nats, postgres } = specs(suffix);
    const [r, n, p] = await Promise.all([
      crashedHolders(redis, 1000),
      crashedHolders(nats, 1000),
      crashedHolders(postgres, 10_000),
    ]);
    const worst = (freed: number[]): number =>
      freed.length === crash.trials ? Math.max(...freed) : Infinity;
    expect(worst(r), 'redis').toBeLessThanOrEqual(1500);
    expect(worst(n), 'nats').toBeLessThanOrEqual(1500);
    expect(worst(p), 'postgres').toBeLessThanOrEqual(1000);
  });

  it(
    'mutual exclusion, redis: 0 overlaps, 0 stale writes accepted, tokens strictly increasing',
    { timeout },
    () => run(specs(suffix).redis, 1),
  );
  it(
    'mutual exclusion, redis quorum of 3: 0 overlaps, 0 stale writes accepted, tokens strictly increasing',
    { timeout },
    () => run({ kind: 'redis', urls: quorum.map((s) => s.url), prefix: `fault:${suffix}:` }, 2),
  );
  it(
    'mutual exclusion, postgres: 0 overlaps, 0 stale writes accepted, tokens strictly increasing',
    { timeout },
    () => run(specs(suffix).postgres, 3),
  );
  it(
    'mutual exclusion, nats: 0 overlaps, 0 stale writes accepted, tokens strictly increasing',
    { timeout },
    () => run(specs(suffix).nats, 4),
  );
});
