import { randomUUID } from 'node:crypto';
import type { KV } from '@micro-os/kv';
import { memcachedKV } from '@micro-os/kv/memcached';
import { postgresKV } from '@micro-os/kv/postgres';
import { redisKV } from '@micro-os/kv/redis';
import { Redis } from 'ioredis';
import memjs from 'memjs';
import pg from 'pg';
import { compare, type Op } from './harness.js';

/**
 * @micro-os/kv get and put of a 100-byte value beside the raw driver doing the same work on the same
 * connection (Redis: the same versioned-write Lua script and HMGET; memcached: memjs SET/GET; Postgres: the
 * same upsert/select statements on a pool of 10), sequential and 64 in flight.
 */
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const memcachedServers = process.env.MEMCACHED_SERVERS ?? '127.0.0.1:11211';
const postgresUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const value = new Uint8Array(100).fill(7);
const raw = Buffer.from(value);
const keys = Array.from({ length: 1000 }, (_, i) => `bench-${i}`);
let n = 0;
const nextKey = (): string => keys[n++ % keys.length] as string;

/** The baseline's versioned write: the same server-side work as the KV's compare-and-set script. */
const versionedPut = `
local current = redis.call('HGET', KEYS[1], 'n')
if ARGV[3] == 'absent' and current then return -1 end
if ARGV[3] == 'version' and current ~= ARGV[4] then return -2 end
local version = (tonumber(current) or 0) + 1
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', version)
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return version
`;

interface Pair {
  name: string;
  ours: { get: Op; put: Op };
  baseline: { get: Op; put: Op };
  sequential: number;
  concurrent: number;
  target: number;
}

async function run(pair: Pair): Promise<void> {
  for (const op of ['put', 'get'] as const) {
    await compare(`kv ${pair.name} ${op} 100 B vs raw driver, sequential`, pair.ours[op], pair.baseline[op], {
      count: pair.sequential,
      concurrency: 1,
      target: pair.target,
    });
    await compare(
      `kv ${pair.name} ${op} 100 B vs raw driver, 64 in flight`,
      pair.ours[op],
      pair.baseline[op],
      {
        count: pair.concurrent,
        concurrency: 64,
        target: pair.target,
      },
    );
  }
}

async function benchRedis(): Promise<void> {
  const client = new Redis(redisUrl);
  const prefix = `bench-kv-${randomUUID().slice(0, 8)}:`;
  const kv: KV = redisKV({ client, keyPrefix: prefix });
  const putSha = (await client.script('LOAD', versionedPut)) as string;
  await run({
    name: 'redis',
    ours: { put: () => kv.put(nextKey(), value), get: () => kv.get(nextKey()) },
    baseline: {
      put: () => client.evalsha(putSha, 1, `${prefix}raw:${nextKey()}`, raw, '', 'none', ''),
      get: () => client.hmgetBuffer(`${prefix}raw:${nextKey()}`, 'v', 'n'),
    },
    sequential: 5000,
    concurrent: 50_000,
    target: 0.95,
  });
  const left = await client.keys(`${prefix}*`);
  if (left.length > 0) await client.unlink(...left);
  await kv.close();
  await client.quit();
}

async function benchMemcached(): Promise<void> {
  const client = memjs.Client.create(memcachedServers, { logger: { log: () => undefined } });
  const prefix = `bk-${randomUUID().slice(0, 8)}:`;
  const kv = memcachedKV({ client, keyPrefix: prefix });
  await run({
    name: 'memcached',
    ours: { put: () => kv.put(nextKey(), value), get: () => kv.get(nextKey()) },
    baseline: {
      put: () => client.set(`${prefix}raw:${nextKey()}`, raw, {}),
      get: () => client.get(`${prefix}raw:${nextKey()}`),
    },
    sequential: 5000,
    concurrent: 50_000,
    target: 0.95,
  });
  await kv.close();
  client.close();
}

async function benchPostgres(): Promise<void> {
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 10 });
  const table = `bench_kv_${randomUUID().slice(0, 8)}`;
  const kv = postgresKV({ pool, table });
  await kv.put('warm', 1);
  await run({
    name: 'postgres',
    ours: { put: () => kv.put(nextKey(), value), get: () => kv.get(nextKey()) },
    baseline: {
      put: () =>
        pool.query(
          `INSERT INTO "${table}" AS old (key, value, version, expires_at)
           VALUES ($1, $2, 1, now() + $3::double precision * interval '1 millisecond')
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at,
             version = old.version + 1 RETURNING version`,
          [`raw:${nextKey()}`, raw, null],
        ),
      get: () =>
        pool.query(
          `SELECT value, version FROM "${table}" WHERE key = $1 AND (expires_at IS NULL OR expires_at > now())`,
          [`raw:${nextKey()}`],
        ),
    },
    sequential: 2000,
    concurrent: 10_000,
    target: 0.9,
  });
  await pool.query(`DROP TABLE IF EXISTS "${table}"`);
  await kv.close();
  await pool.end();
}

/** `tsx src/kv.ts [redis|memcached|postgres]`: every backend, or the one named. */
const only = process.argv[2];
if (only === undefined || only === 'redis') await benchRedis();
if (only === undefined || only === 'memcached') await benchMemcached();
if (only === undefined || only === 'postgres') await benchPostgres();
