import { randomUUID } from 'node:crypto';
import type { Locks } from '@micro-os/sync';
import { natsLocks } from '@micro-os/sync/nats';
import { postgresLocks } from '@micro-os/sync/postgres';
import { redisLocks } from '@micro-os/sync/redis';
import { Redis } from 'ioredis';
import Redlock from 'redlock';
import { compare, measure, type Op } from './harness.js';

/**
 * @micro-os/sync uncontended acquire+release, sequential, beside raw redlock (acquire + release, its default
 * scripts, no token) on the same Redis in the same run; then our figures on Postgres and NATS for reference.
 */
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const postgresUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const run = randomUUID().slice(0, 8);
let n = 0;
const name = (): string => `bench-${run}-${n++ % 100}`;

const cycle =
  (locks: Locks): Op =>
  async () => {
    const lock = await locks.acquire(name(), { ttl: 10_000, wait: 0 });
    await lock.release();
  };

const oursClient = new Redis(redisUrl);
const rawClient = new Redis(redisUrl);
const ours = redisLocks({ client: oursClient, prefix: `bench:${run}:` });
const redlock = new Redlock([rawClient], { retryCount: 0 });
const raw: Op = async () => {
  const lock = await redlock.acquire([`bench:${run}:raw:${n++ % 100}`], 10_000);
  await lock.release();
};

await compare('sync redis acquire+release vs raw redlock, sequential', cycle(ours), raw, {
  count: 3000,
  concurrency: 1,
  rounds: 5,
  target: 1.0,
});

const table = `bench_sync_${run}`;
const others: [string, Locks][] = [
  ['postgres', postgresLocks({ url: postgresUrl, table })],
  ['nats', natsLocks({ servers: natsUrl, bucket: 'bench_sync' })],
];
for (const [backend, locks] of others) {
  await measure(cycle(locks), 300, 1);
  const f = await measure(cycle(locks), 2000, 1);
  console.log(
    `sync ${backend} acquire+release, sequential\n  ours ${Math.round(f.reqPerSec).toLocaleString('en-US').padStart(10)} req/s  p50 ${f.p50.toFixed(0).padStart(6)} µs  p99 ${f.p99.toFixed(0).padStart(6)} µs`,
  );
}

await ours.close();
oursClient.disconnect();
rawClient.disconnect();
const pg = (await import('pg')).default;
const pool = new pg.Pool({ connectionString: postgresUrl });
await pool.query(`DROP TABLE IF EXISTS ${table}; DROP SEQUENCE IF EXISTS ${table}_token`);
await pool.end();
for (const [, locks] of others) await locks.close();
