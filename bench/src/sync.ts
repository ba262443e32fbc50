import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Locks } from '@micro-os/sync';
import { natsLocks } from '@micro-os/sync/nats';
import { postgresLocks } from '@micro-os/sync/postgres';
import { redisLocks } from '@micro-os/sync/redis';
import { Redis } from 'ioredis';
import pg from 'pg';
import Redlock from 'redlock';
import { compare, measure, type Op } from './harness.js';

/**
 * @micro-os/sync uncontended acquire+release, sequential, beside raw redlock (acquire + release, its default
 * scripts, no token) on the same Redis in the same run; then our figures on Postgres and NATS for reference;
 * then the contended hand-off latency between two processes (release in one to acquisition in the other).
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

type Backend = 'redis' | 'postgres' | 'nats';
const open = (backend: Backend, tag: string): Locks =>
  backend === 'redis'
    ? redisLocks({ url: redisUrl, prefix: `bench:${tag}:` })
    : backend === 'postgres'
      ? postgresLocks({ url: postgresUrl, table: `bench_sync_${tag}` })
      : natsLocks({ servers: natsUrl, bucket: 'bench_sync' });

const handoffRounds = 100;

/** One side of the hand-off: acquire, hold 1 ms, release, step aside 20 ms, `handoffRounds` times; prints (acquired, released). */
async function handoffSide(backend: Backend, tag: string, lockName: string): Promise<void> {
  const locks = open(backend, tag);
  const now = (): number => performance.timeOrigin + performance.now();
  const log: [number, number][] = [];
  for (let i = 0; i < handoffRounds; i++) {
    const lock = await locks.acquire(lockName, { ttl: 10_000, wait: 60_000 });
    const acquired = now();
    await new Promise((r) => setTimeout(r, 1));
    const released = now();
    await lock.release();
    log.push([acquired, released]);
    // Step aside so that the other process, waiting, gets the lock next.
    await new Promise((r) => setTimeout(r, 20));
  }
  await locks.close();
  process.stdout.write(JSON.stringify(log));
}

async function handoff(backend: Backend): Promise<void> {
  const lockName = `handoff-${randomUUID().slice(0, 8)}`;
  const side = (): Promise<[number, number, number][]> =>
    new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), 'handoff-side', backend, run, lockName],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`hand-off side exited with ${code}`));
        resolve((JSON.parse(out) as [number, number][]).map(([a, r]) => [child.pid ?? 0, a, r]));
      });
    });
  const sections = (await Promise.all([side(), side()])).flat().sort((a, b) => a[1] - b[1]);
  const latencies: number[] = [];
  for (let i = 1; i < sections.length; i++) {
    const [prev, cur] = [sections[i - 1], sections[i]] as const;
    if (prev !== undefined && cur !== undefined && prev[0] !== cur[0])
      latencies.push((cur[1] - prev[2]) * 1000);
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number): string => (latencies[Math.floor(latencies.length * q)] ?? 0).toFixed(0).padStart(6);
  console.log(
    `sync ${backend} contended hand-off between 2 processes (${latencies.length} hand-offs)\n  p50 ${at(0.5)} µs  p99 ${at(0.99)} µs`,
  );
}

if (process.argv[2] === 'handoff-side') {
  await handoffSide(process.argv[3] as Backend, process.argv[4] as string, process.argv[5] as string);
} else {
  await main();
}

async function main(): Promise<void> {
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
    rounds: 9,
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
  const pool = new pg.Pool({ connectionString: postgresUrl });
  await pool.query(`DROP TABLE IF EXISTS ${table}; DROP SEQUENCE IF EXISTS ${table}_token`);
  await pool.end();
  for (const [, locks] of others) await locks.close();
  for (const backend of ['redis', 'postgres', 'nats'] as const) await handoff(backend);
  const cleanup = new pg.Pool({ connectionString: postgresUrl });
  await cleanup.query(
    `DROP TABLE IF EXISTS bench_sync_${run}; DROP SEQUENCE IF EXISTS bench_sync_${run}_token`,
  );
  await cleanup.end();
}
