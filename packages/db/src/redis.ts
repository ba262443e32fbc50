import { createHash } from 'node:crypto';
import { invalidArgument, isMicroError, MicroError } from '@micro-os/core';
import { ownedRedisConnection } from '@micro-os/core/internal/redis';
import type { Redis } from 'ioredis';
import { alreadyExists, createDB, notFound, versionMismatch } from './create-db.js';
import type { DB, DBRecord, JsonValue, Metadata } from './db.js';
import { orderAndPage } from './order.js';
import { createScript, deleteScript, updateScript } from './redis-scripts.js';

export interface RedisDBOptions {
  /** A ready ioredis client; it is used as is and left open by `close()`. */
  client?: Redis;
  /** Connect lazily to this URL instead (the DB owns and closes the connection). */
  url?: string;
  /** The db name: every key lives under `<keyPrefix>{<namespace>}:`, one hash slot. @default "default" */
  namespace?: string;
  /** @default "micro-os:db:" */
  keyPrefix?: string;
  /** Command and connect timeout of an owned connection, in ms. @default 5000 */
  timeout?: number;
}

type Fields = [string | null, string | null, string | null, string | null, string | null];

/** Retries when a record changed between reading its index list and the script that uses it. */
const maxRaces = 10;

/**
 * A DB on Redis: a hash per record, a set of ids per metadata key=value for equality search, sorted sets
 * for order; every write is one Lua script. All keys of a db share the hash tag `{namespace}`, so the
 * scripts work on Redis Cluster (the whole db lives in one slot).
 */
export function redisDB(options: RedisDBOptions): DB {
  const { client: given, url } = options;
  if ((given === undefined) === (url === undefined))
    throw invalidArgument('redisDB needs exactly one of { client } or { url }');
  const namespace = options.namespace ?? 'default';
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(namespace)) {
    throw invalidArgument(
      `redisDB namespace must match [A-Za-z0-9_.-]{1,100}, got ${JSON.stringify(namespace)}`,
    );
  }
  const timeout = options.timeout ?? 5000;
  if (!(Number.isFinite(timeout) && timeout > 0))
    throw invalidArgument(`redisDB timeout must be > 0, got ${timeout}`);
  const client = given ?? ownedRedisConnection(url as string, timeout);

  const ns = `${options.keyPrefix ?? 'micro-os:db:'}{${namespace}}:`;
  const keys = { created: `${ns}created`, updated: `${ns}updated`, ids: `${ns}ids` };
  const recordKey = (id: string): string => `${ns}r:${id}`;
  const indexKeys = (metadata: Metadata): string[] =>
    Object.entries(metadata).map(([key, value]) => `${ns}i:${JSON.stringify([key, value])}`);

  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      if (isMicroError(err)) throw err;
      const reply = err instanceof Error && err.name === 'ReplyError';
      const message = err instanceof Error ? err.message : String(err);
      throw new MicroError(reply ? 'internal' : 'unavailable', `redis db ${what} failed: ${message}`, {
        cause: err,
      });
    }
  };
  const script = (source: string) => {
    const sha = createHash('sha1').update(source).digest('hex');
    return (what: string, keyList: string[], args: string[]): Promise<unknown> =>
      call(what, async () => {
        try {
          return await client.evalsha(sha, keyList.length, ...keyList, ...args);
        } catch (err) {
          if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
          return client.eval(source, keyList.length, ...keyList, ...args);
        }
      });
  };
  const runCreate = script(createScript);
  const runUpdate = script(updateScript);
  const runDelete = script(deleteScript);

  const record = (id: string, fields: Fields): DBRecord | undefined => {
    const [metadata, data, created, updated, version] = fields;
    if (metadata === null || data === null || created === null || updated === null || version === null)
      return undefined;
    return {
      id,
      created: Number(created),
      updated: Number(updated),
      version: Number(version),
      metadata: JSON.parse(metadata) as Metadata,
      data: JSON.parse(data) as JsonValue,
    };
  };
  const fetch = async (id: string): Promise<DBRecord | undefined> =>
    record(
      id,
      (await call('read', () =>
        client.hmget(recordKey(id), 'metadata', 'data', 'created', 'updated', 'version'),
      )) as Fields,
    );
  const fetchAll = async (ids: string[]): Promise<DBRecord[]> =>
    (await Promise.all(ids.map(fetch))).filter((r): r is DBRecord => r !== undefined);
  const raced = (id: string): MicroError =>
    new MicroError('aborted', `record "${id}" kept changing during the write; try again`, {
      details: { id },
    });
  let closed = false;

  return createDB({
    name: 'redis',
    async create({ id, metadata, data }) {
      const index = indexKeys(metadata);
      const result = await runCreate(
        'create',
        [recordKey(id), keys.created, keys.updated, keys.ids, ...index],
        [id, JSON.stringify(metadata), JSON.stringify(data), JSON.stringify(index)],
      );
      if (!Array.isArray(result)) throw alreadyExists(id);
      return record(id, result as Fields) as DBRecord;
    },
    async read(id) {
      const found = await fetch(id);
      if (found === undefined) throw notFound(id);
      return found;
    },
    async update({ id, version, metadata, data }) {
      for (let attempt = 0; attempt < maxRaces; attempt++) {
        const [current, idx] = await call('update', () => client.hmget(recordKey(id), 'version', 'idx'));
        if (current == null || idx == null) throw notFound(id);
        if (Number(current) !== version) throw versionMismatch(id, version, Number(current));
        const oldIndex = JSON.parse(idx) as string[];
        const newIndex = metadata === undefined ? [] : indexKeys(metadata);
        const result = await runUpdate(
          'update',
          [recordKey(id), keys.updated, ...oldIndex, ...newIndex],
          [
            id,
            String(version),
            String(oldIndex.length),
            metadata === undefined ? '' : JSON.stringify(metadata),
            data === undefined ? '' : JSON.stringify(data),
            JSON.stringify(newIndex),
            idx,
          ],
        );
        if (Array.isArray(result)) return record(id, result as Fields) as DBRecord;
        if (result === -1) throw notFound(id);
        if (result === -2) throw versionMismatch(id, version);
      }
      throw raced(id);
    },
    async delete(id) {
      for (let attempt = 0; attempt < maxRaces; attempt++) {
        const idx = await call('delete', () => client.hget(recordKey(id), 'idx'));
        if (idx === null) throw notFound(id);
        const index = JSON.parse(idx) as string[];
        const result = await runDelete(
          'delete',
          [recordKey(id), keys.created, keys.updated, keys.ids, ...index],
          [id, idx],
        );
        if (result === 1) return;
        if (result === -1) throw notFound(id);
      }
      throw raced(id);
    },
    async search(query) {
      const { metadata, limit, offset, orderBy, descending } = query;
      if (Object.keys(metadata).length > 0) {
        const ids = await call('search', () => client.sinter(...indexKeys(metadata)));
        return orderAndPage(await fetchAll(ids), query);
      }
      const last = offset + limit - 1;
      const ids = await call('search', () => {
        if (orderBy === 'id') {
          return descending
            ? client.zrange(keys.ids, '+', '-', 'BYLEX', 'REV', 'LIMIT', offset, limit)
            : client.zrange(keys.ids, '-', '+', 'BYLEX', 'LIMIT', offset, limit);
        }
        const key = orderBy === 'created' ? keys.created : keys.updated;
        return descending ? client.zrange(key, offset, last, 'REV') : client.zrange(key, offset, last);
      });
      return fetchAll(ids);
    },
    async close() {
      if (closed || given !== undefined) return;
      closed = true;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  });
}
