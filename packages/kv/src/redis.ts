import { createHash } from 'node:crypto';
import { invalidArgument, isMicroError, MicroError } from '@micro-os/core';
import { ownedRedisConnection } from '@micro-os/core/internal/redis';
import type { Redis } from 'ioredis';
import { createKV } from './create-kv.js';
import type { KVDriver, StoredItem, WriteCondition } from './driver.js';
import type { KV } from './kv.js';

export interface RedisKVOptions {
  /** A ready ioredis client; it is used as is and left open by `close()`. */
  client?: Redis;
  /** Connect lazily to this URL instead (the KV owns and closes the connection). */
  url?: string;
  /** Prefix of every Redis key this KV writes. @default "micro-os:kv:" */
  keyPrefix?: string;
  /** Command and connect timeout of an owned connection, in ms. @default 5000 */
  timeout?: number;
  /** Longest key in bytes, namespace included. @default 1024 */
  maxKeyLength?: number;
  /** Largest value in bytes. @default 512 MiB */
  maxValueSize?: number;
}

/**
 * Conditional write in one round trip. The item is one hash ({ v: data, n: version }), so every operation
 * touches exactly one key and works on Redis Cluster. Answers the new version, -1 when ifAbsent found a
 * live item, -2 when ifVersion did not match.
 */
const putScript = `
local current = redis.call('HGET', KEYS[1], 'n')
if ARGV[3] == 'absent' and current then return -1 end
if ARGV[3] == 'version' and current ~= ARGV[4] then return -2 end
local version = (tonumber(current) or 0) + 1
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', version)
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return version
`;
const putSha = createHash('sha1').update(putScript).digest('hex');

/** A KV on Redis: one hash per item, CAS in one Lua call (EVALSHA, EVAL on NOSCRIPT), SCAN for keys. */
export function redisKV(options: RedisKVOptions): KV {
  const { client: given, url } = options;
  if ((given === undefined) === (url === undefined)) {
    throw invalidArgument('redisKV needs exactly one of { client } or { url }');
  }
  const timeout = options.timeout ?? 5000;
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw invalidArgument(`redisKV timeout must be > 0 ms, got ${String(options.timeout)}`);
  }
  const base = options.keyPrefix ?? 'micro-os:kv:';
  if (typeof base !== 'string') throw invalidArgument('redisKV keyPrefix must be a string');
  const client = given ?? ownedRedisConnection(url as string, timeout);

  const fail = (err: unknown, what: string): MicroError => {
    if (isMicroError(err)) return err;
    const reply = err instanceof Error && err.name === 'ReplyError';
    const message = err instanceof Error ? err.message : String(err);
    return new MicroError(reply ? 'internal' : 'unavailable', `redis ${what} failed: ${message}`, {
      cause: err,
    });
  };
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw fail(err, what);
    }
  };
  const item = ([data, version]: (Buffer | null)[]): StoredItem | undefined =>
    data == null || version == null ? undefined : { data, version: Number(version.toString()) };
  const pattern = (prefix: string): string => `${(base + prefix).replace(/[*?[\]\\]/g, '\\$&')}*`;

  async function* scan(prefix: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, found] = await call('scan', () =>
        client.scan(cursor, 'MATCH', pattern(prefix), 'COUNT', 500),
      );
      cursor = next;
      if (found.length > 0) yield found;
    } while (cursor !== '0');
  }

  const driver: KVDriver = {
    name: 'redis',
    maxKeyLength: options.maxKeyLength ?? 1024,
    maxValueSize: options.maxValueSize ?? 512 * 1024 * 1024,
    get(key) {
      return client.hmgetBuffer(base + key, 'v', 'n').then(item, (err: unknown) => {
        throw fail(err, 'get');
      });
    },
    async getMany(keys) {
      return Promise.all(keys.map((key) => driver.get(key)));
    },
    put(key, data, ttl, condition: WriteCondition) {
      const args = [
        base + key,
        Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        ttl === undefined ? '' : String(ttl),
        condition.kind,
        condition.kind === 'version' ? String(condition.version) : '',
      ];
      return client
        .evalsha(putSha, 1, ...args)
        .catch((err: unknown) => {
          if (err instanceof Error && err.message.startsWith('NOSCRIPT'))
            return client.eval(putScript, 1, ...args);
          throw err;
        })
        .then(
          (result) => {
            if (result === -1) {
              throw new MicroError('already_exists', `key "${key}" already exists`, { details: { key } });
            }
            if (result === -2) {
              const expected = condition.kind === 'version' ? condition.version : null;
              throw new MicroError('aborted', `key "${key}" is not at version ${expected}`, {
                details: { key, expected },
              });
            }
            return Number(result);
          },
          (err: unknown) => {
            throw fail(err, 'put');
          },
        );
    },
    async del(key) {
      return (await call('del', () => client.del(base + key))) > 0;
    },
    async has(key) {
      return (await call('exists', () => client.exists(base + key))) > 0;
    },
    async *keys(prefix) {
      const seen = new Set<string>();
      for await (const batch of scan(prefix)) {
        for (const key of batch) {
          if (seen.has(key)) continue;
          seen.add(key);
          yield key.slice(base.length);
        }
      }
    },
    async clear(prefix) {
      for await (const batch of scan(prefix)) await call('unlink', () => client.unlink(...batch));
    },
    async close() {
      if (given !== undefined) return;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
  return createKV(driver);
}
