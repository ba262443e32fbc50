import {
  checkServiceName,
  isMicroError,
  MicroError,
  type RegisterOptions,
  type Registry,
  type RegistryEvent,
  type Service,
  toMicroError,
  type WatchOptions,
} from '@micro-os/core';
import { Redis } from 'ioredis';
import {
  type ChangeMessage,
  checkRegistration,
  conflict,
  defaultMaxRecordBytes,
  identity,
  type LiveRecord,
  lookupService,
  type NodeRecord,
  parseRecord,
  recordIdentity,
  toRecords,
  toServices,
} from './record.js';
import { Watchers } from './watch-state.js';

export interface RedisRegistryOptions {
  /** A ready client; the registry uses it and leaves it open. Exclusive with `url`. */
  client?: Redis;
  /** A Redis URL; the registry connects lazily and owns the connection. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** Prefix of every key and of the change channel. @default 'micro:registry' */
  prefix?: string;
  /**
   * Ask the server to publish key expiry events (`CONFIG SET notify-keyspace-events Ex`, merged with what is
   * set) so that watchers hear of expiries from Redis too. Watchers see expiries without it, from their own
   * clock. @default true
   */
  keyspaceEvents?: boolean;
  /** Largest JSON size of one node's record in bytes. @default 7900 */
  maxRecordBytes?: number;
}

// KEYS: node key, index key. ARGV: record JSON, address, ttl ms or '', index member, channel.
const registerScript = `
local current = redis.call('GET', KEYS[1])
local change = 'create'
if current then
  local ok, old = pcall(cjson.decode, current)
  if ok and type(old) == 'table' and type(old.node) == 'table' and old.node.address ~= ARGV[2] then
    return {'conflict', old.node.address}
  end
  if current == ARGV[1] then change = 'renew' else change = 'update' end
end
if ARGV[3] == '' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
redis.call('SADD', KEYS[2], ARGV[4])
local ttl = ARGV[3]
if ttl == '' then ttl = 'null' end
redis.call('PUBLISH', ARGV[5], '{"op":"put","ttl":' .. ttl .. ',"record":' .. ARGV[1] .. '}')
return {change, ''}
`;

// KEYS: node key, index key. ARGV: index member, channel.
const deregisterScript = `
local current = redis.call('GET', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
if not current then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], '{"op":"del","record":' .. current .. '}')
return 1
`;

/**
 * A registry on Redis: one key per node (`<prefix>:{<service>}:node:<version>:<id>`, expiring with PX),
 * a set per service indexing its nodes (same hash tag, so Cluster-safe), a set of service names, and one
 * pub/sub channel carrying every change to watchers. Watchers also learn of expiries from keyspace
 * notifications when the server allows them, and from their own clock always.
 */
export function redisRegistry(options: RedisRegistryOptions = {}): Registry {
  if (options.client !== undefined && options.url !== undefined)
    throw new MicroError('invalid_argument', 'redisRegistry: give either client or url, not both');
  const prefix = options.prefix ?? 'micro:registry';
  if (typeof prefix !== 'string' || prefix === '' || /[{}\s]/.test(prefix))
    throw new MicroError('invalid_argument', `redisRegistry: bad prefix ${JSON.stringify(prefix)}`);
  const maxRecordBytes = options.maxRecordBytes ?? defaultMaxRecordBytes;
  if (!(Number.isInteger(maxRecordBytes) && maxRecordBytes > 0))
    throw new MicroError(
      'invalid_argument',
      `redisRegistry: maxRecordBytes must be a positive integer, got ${maxRecordBytes}`,
    );
  const channelName = `${prefix}:changes`;
  const servicesKey = `${prefix}:services`;
  const owned = options.client === undefined;
  let client: Redis | undefined = options.client;
  let subscriber: Redis | undefined;
  let warmed = false;
  let subscribed: Promise<unknown> = Promise.resolve();
  let closed = false;
  const watchers = new Watchers();

  const onError = (): void => {
    // Connection errors surface on the commands that fail; the listener keeps the process alive.
  };
  const redis = (): Redis => {
    if (closed) throw new MicroError('failed_precondition', 'redis registry is closed');
    if (!warmed) {
      warmed = true;
      queueMicrotask(() => {
        // The watch connection opens with the first use, so that a watch started later is live at once.
        if (!closed) startSubscriber();
      });
    }
    if (client === undefined) {
      client = new Redis(options.url ?? 'redis://127.0.0.1:6379', {
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        retryStrategy: (times) => Math.min(times * 100, 1000),
      });
      client.on('error', onError);
    }
    return client;
  };
  const wrap = (err: unknown, what: string): MicroError => {
    if (isMicroError(err)) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (/NOSCRIPT|ERR|WRONGTYPE/.test(message) && !/connect|Connection|closed/i.test(message))
      return toMicroError(err, 'internal');
    return new MicroError('unavailable', `redis registry: ${what} failed: ${message}`, { cause: err });
  };
  const tag = (name: string): string => `${prefix}:{${name}}`;
  const member = (version: string, id: string): string =>
    `${encodeURIComponent(version)}:${encodeURIComponent(id)}`;
  const nodeKey = (name: string, m: string): string => `${tag(name)}:node:${m}`;
  const indexKey = (name: string): string => `${tag(name)}:nodes`;
  const keyPattern = new RegExp(`^${escapeRegExp(prefix)}:\\{(.+)\\}:node:([^:]*):([^:]*)$`);

  const load = async (name: string): Promise<LiveRecord[]> => {
    const r = redis();
    const members = await r.smembers(indexKey(name));
    if (members.length === 0) return [];
    const keys = members.map((m) => nodeKey(name, m));
    const pipeline = r.pipeline();
    pipeline.mget(...keys);
    for (const key of keys) pipeline.pttl(key);
    const results = (await pipeline.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    const values = (results[0]?.[1] ?? []) as (string | null)[];
    const live: LiveRecord[] = [];
    const gone: string[] = [];
    values.forEach((value, i) => {
      if (value === null) gone.push(members[i] as string);
      else {
        const pttl = results[i + 1]?.[1] as number;
        live.push({ record: parseRecord(value), ttl: pttl >= 0 ? pttl : null });
      }
    });
    if (gone.length > 0) await r.srem(indexKey(name), ...gone);
    return live;
  };

  const snapshot = async (service?: string): Promise<LiveRecord[]> => {
    if (service !== undefined) return load(service);
    const names = await redis().smembers(servicesKey);
    return (await Promise.all(names.map(load))).flat();
  };

  const startSubscriber = (): void => {
    if (subscriber !== undefined) return;
    // No ready check: its INFO fails once a (P)SUBSCRIBE has gone out on the connection, and ioredis sends
    // subscribe commands before the check when they are issued between connect and ready.
    const sub = redis().duplicate({
      lazyConnect: false,
      maxRetriesPerRequest: null,
      enableReadyCheck: false,
    });
    subscriber = sub;
    sub.on('error', onError);
    // Changes published while the subscriber is disconnected are lost, so a watch ends with `unavailable`
    // when its connection drops; the watcher starts a new one (cachedRegistry does) and reads afresh.
    sub.on('close', () => {
      if (subscriber !== sub) return;
      stopSubscriber();
      watchers.fail(new MicroError('unavailable', 'redis registry: watch connection lost'));
    });
    sub.on('message', (_channel: string, message: string) => {
      let change: ChangeMessage;
      try {
        change = JSON.parse(message) as ChangeMessage;
      } catch {
        return;
      }
      if (change.op === 'put') watchers.put(change.record, change.ttl ?? null);
      else watchers.remove(recordIdentity(change.record), change.record);
    });
    sub.on('pmessage', (_pattern: string, _channel: string, key: string) => {
      const match = keyPattern.exec(key);
      if (match === null) return;
      const [, name, version, id] = match as unknown as [string, string, string, string];
      watchers.remove(identity(name, decodeURIComponent(version), decodeURIComponent(id)));
    });
    subscribed = sub.subscribe(channelName);
    if (options.keyspaceEvents ?? true) {
      enableKeyspaceEvents(redis())
        .then((enabled) => (enabled ? sub.psubscribe('__keyevent@*__:expired') : undefined))
        .catch(() => undefined);
    }
  };

  const stopSubscriber = (): void => {
    const sub = subscriber;
    subscriber = undefined;
    sub?.disconnect();
  };

  return {
    name: 'redis',
    async register(service: Service, opts: RegisterOptions = {}) {
      checkRegistration(service, opts.ttl, { maxRecordBytes });
      const ttl = opts.ttl === undefined ? '' : String(Math.ceil(opts.ttl));
      try {
        const r = redis();
        await r.sadd(servicesKey, service.name);
        for (const record of toRecords(service)) {
          const m = member(record.service.version, record.node.id);
          const [result, existing] = (await r.eval(
            registerScript,
            2,
            nodeKey(service.name, m),
            indexKey(service.name),
            JSON.stringify(record),
            record.node.address,
            ttl,
            m,
            channelName,
          )) as [string, string];
          if (result === 'conflict') throw conflict(record, existing);
        }
      } catch (err) {
        throw wrap(err, `register ${service.name}`);
      }
    },
    async deregister(service: Service) {
      checkRegistration(service, undefined, { maxRecordBytes: Number.POSITIVE_INFINITY });
      try {
        const r = redis();
        for (const node of service.nodes) {
          const m = member(service.version, node.id);
          await r.eval(deregisterScript, 2, nodeKey(service.name, m), indexKey(service.name), m, channelName);
        }
      } catch (err) {
        throw wrap(err, `deregister ${service.name}`);
      }
    },
    getService: (name: string) => lookupService(name, load, wrap),
    async listServices() {
      try {
        const r = redis();
        const names = await r.smembers(servicesKey);
        const found: NodeRecord[] = [];
        for (const name of names) {
          const records = await load(name);
          if (records.length === 0) await r.srem(servicesKey, name);
          for (const l of records) found.push(l.record);
        }
        return toServices(found);
      } catch (err) {
        throw wrap(err, 'listServices');
      }
    },
    watch(opts: WatchOptions = {}): AsyncIterable<RegistryEvent> {
      if (opts.service !== undefined) checkServiceName(opts.service);
      if (closed) throw new MicroError('failed_precondition', 'redis registry is closed');
      startSubscriber();
      const state = watchers.add(opts.service, opts.signal, () => undefined);
      // The snapshot is read once changes are flowing, so nothing falls between the two.
      subscribed
        .then(() => snapshot(opts.service))
        .then(
          (records) => state.load(records),
          (err: unknown) => state.channel.fail(wrap(err, 'watch')),
        );
      return state.channel;
    },
    async close() {
      if (closed) return;
      closed = true;
      watchers.end();
      stopSubscriber();
      if (owned) client?.disconnect();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

/** Turns on expired-key events (`E` and `x`), keeping the flags already set; false when not allowed. */
async function enableKeyspaceEvents(client: Redis): Promise<boolean> {
  try {
    const [, current = ''] = (await client.config('GET', 'notify-keyspace-events')) as [string, string];
    const hasEvents = current.includes('E') && (current.includes('x') || current.includes('A'));
    if (hasEvents) return true;
    let flags = current;
    if (!flags.includes('E')) flags += 'E';
    if (!flags.includes('x') && !flags.includes('A')) flags += 'x';
    await client.config('SET', 'notify-keyspace-events', flags);
    return true;
  } catch {
    return false;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
