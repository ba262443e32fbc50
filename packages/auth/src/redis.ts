import { invalidArgument, MicroError } from '@micro-os/core';
import { ownedRedisConnection } from '@micro-os/core/internal/redis';
import type { Redis } from 'ioredis';
import { driverError } from './driver-error.js';
import type { AccountRecord, AuthStore, RefreshRecord } from './store.js';

export interface RedisAuthStoreOptions {
  /** A ready ioredis client; it is used as is and left open by `close()`. */
  client?: Redis;
  /** Connect lazily to this URL instead (the store owns and closes the connection). */
  url?: string;
  /** Prefix of every key. @default "micro-os:auth:" */
  keyPrefix?: string;
  /** Command and connect timeout of an owned connection, ms. @default 5000 */
  timeout?: number;
}

/**
 * Auth store on Redis: one key per account (`SET NX`), refresh token (`SET PX`, taken with `GETDEL`, Redis
 * >= 6.2) and revoked token id (`SET PX`). Every operation touches one key, so it works on Redis Cluster;
 * `listAccounts` uses SCAN (per node on a cluster).
 */
export function redisAuthStore(options: RedisAuthStoreOptions): AuthStore {
  const { client: given, url } = options;
  if ((given === undefined) === (url === undefined))
    throw invalidArgument('redisAuthStore needs exactly one of { client } or { url }');
  const timeout = options.timeout ?? 5000;
  if (!(timeout > 0 && Number.isFinite(timeout)))
    throw invalidArgument(`timeout must be > 0 ms, got ${timeout}`);
  const prefix = options.keyPrefix ?? 'micro-os:auth:';
  const client = given ?? ownedRedisConnection(url as string, timeout);
  const accountKey = (id: string): string => `${prefix}account:${id}`;
  const refreshKey = (hash: string): string => `${prefix}refresh:${hash}`;
  const revokedKey = (jti: string): string => `${prefix}revoked:${jti}`;
  let closed = false;

  const run = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new MicroError('failed_precondition', 'the redis auth store is closed');
    try {
      return await fn();
    } catch (err) {
      throw driverError('redis', operation, err);
    }
  };

  const store: AuthStore = {
    name: 'redis',
    async createAccount(record) {
      const ok = await run('createAccount', () =>
        client.set(accountKey(record.id), JSON.stringify(record), 'NX'),
      );
      if (ok === null)
        throw new MicroError('already_exists', `account ${JSON.stringify(record.id)} already exists`);
    },
    async getAccount(id) {
      const raw = await run('getAccount', () => client.get(accountKey(id)));
      return raw === null ? undefined : (JSON.parse(raw) as AccountRecord);
    },
    async deleteAccount(id) {
      return (await run('deleteAccount', () => client.del(accountKey(id)))) > 0;
    },
    async listAccounts() {
      return run('listAccounts', async () => {
        const out: AccountRecord[] = [];
        let cursor = '0';
        do {
          const [nextCursor, keys] = await client.scan(cursor, 'MATCH', `${prefix}account:*`, 'COUNT', 500);
          cursor = nextCursor;
          for (const key of keys) {
            const raw = await client.get(key);
            if (raw !== null) out.push(JSON.parse(raw) as AccountRecord);
          }
        } while (cursor !== '0');
        return out;
      });
    },
    async putRefreshToken(record) {
      const ttl = Math.max(1, Math.ceil(record.expires - Date.now()));
      await run('putRefreshToken', () =>
        client.set(refreshKey(record.hash), JSON.stringify(record), 'PX', ttl),
      );
    },
    async takeRefreshToken(hash) {
      const raw = await run('takeRefreshToken', () => client.getdel(refreshKey(hash)));
      if (raw === null) return undefined;
      const record = JSON.parse(raw) as RefreshRecord;
      return record.expires > Date.now() ? record : undefined;
    },
    async revoke(jti, expires) {
      const ttl = Math.max(1, Math.ceil(expires - Date.now()));
      await run('revoke', () => client.set(revokedKey(jti), '1', 'PX', ttl));
    },
    async isRevoked(jti) {
      return (await run('isRevoked', () => client.exists(revokedKey(jti)))) > 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (given === undefined) client.disconnect();
    },
    async [Symbol.asyncDispose]() {
      await store.close();
    },
  };
  return store;
}
