import {
  checkServiceName,
  isMicroError,
  MicroError,
  type RegisterOptions,
  type Registry,
  type RegistryEvent,
  type Service,
  type WatchOptions,
} from '@micro-os/core';
import { Bucket, Kvm, KvWatchInclude } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  checkRegistration,
  conflict,
  defaultMaxRecordBytes,
  identity,
  type LiveRecord,
  lookupService,
  type NodeRecord,
  parseRecord,
  toRecords,
  toServices,
} from './record.js';
import { Watchers } from './watch-state.js';

export interface NatsRegistryOptions {
  /** A ready connection; the registry uses it and leaves it open. Exclusive with `url`. */
  connection?: NatsConnection;
  /** NATS server URL(s); the registry connects lazily and owns the connection. @default 'nats://127.0.0.1:4222' */
  url?: string | string[];
  /** The JetStream KV bucket holding the nodes. @default 'micro_registry' */
  bucket?: string;
  /** How often this instance deletes expired entries from the bucket, ms. @default 1000 */
  sweepInterval?: number;
  /** Largest JSON size of one node's record in bytes. @default 7900 */
  maxRecordBytes?: number;
}

interface Stored {
  record: NodeRecord;
  /** Wall-clock expiry in ms since the epoch, or null for no expiry. */
  expires: number | null;
}

const token = (text: string): string => `x${Buffer.from(text).toString('base64url')}`;
const untoken = (part: string): string => Buffer.from(part.slice(1), 'base64url').toString();

/**
 * A registry on a JetStream KV bucket: one key per node (`<service>.<version>.<id>`, each token base64url so
 * any version or id is a valid key), values carrying their expiry time. JetStream on servers before 2.11
 * has no per-key TTL, so every instance sweeps expired keys with a revision-checked delete (a renewal in
 * between wins) and every watcher also expires nodes on its own clock. Watch is the KV's native watch.
 */
export function natsRegistry(options: NatsRegistryOptions = {}): Registry {
  if (options.connection !== undefined && options.url !== undefined)
    throw new MicroError('invalid_argument', 'natsRegistry: give either connection or url, not both');
  const bucket = options.bucket ?? 'micro_registry';
  if (!/^[A-Za-z0-9_-]+$/.test(bucket))
    throw new MicroError('invalid_argument', `natsRegistry: bad bucket name ${JSON.stringify(bucket)}`);
  const sweepInterval = options.sweepInterval ?? 1000;
  if (!(sweepInterval > 0))
    throw new MicroError('invalid_argument', `natsRegistry: sweepInterval must be > 0, got ${sweepInterval}`);
  const maxRecordBytes = options.maxRecordBytes ?? defaultMaxRecordBytes;
  const owned = options.connection === undefined;
  let nc: Promise<NatsConnection> | undefined;
  let kv: Promise<Bucket> | undefined;
  let sweeper: NodeJS.Timeout | undefined;
  let closed = false;
  const watchers = new Watchers();

  const connection = (): Promise<NatsConnection> => {
    if (closed) return Promise.reject(new MicroError('failed_precondition', 'nats registry is closed'));
    nc ??= (
      options.connection !== undefined
        ? Promise.resolve(options.connection)
        : connect({
            servers: options.url ?? 'nats://127.0.0.1:4222',
            reconnectTimeWait: 250,
            // An outage of any length ends in a reconnect, never in a connection closed for good.
            maxReconnectAttempts: -1,
          })
    ).then((conn) => {
      void followStatus(conn);
      return conn;
    });
    nc.catch(() => {
      nc = undefined;
    });
    return nc;
  };
  const store = (): Promise<Bucket> => {
    kv ??= connection().then(async (conn) => {
      const created = await new Kvm(conn).create(bucket, { history: 1 });
      if (!(created instanceof Bucket))
        throw new MicroError('internal', `nats registry: bucket ${bucket} is not a JetStream KV Bucket`);
      return created;
    });
    kv.catch(() => {
      kv = undefined;
    });
    if (sweeper === undefined && !closed) {
      sweeper = setInterval(() => void sweep().catch(() => undefined), sweepInterval);
      sweeper.unref();
    }
    return kv;
  };
  const wrap = (err: unknown, what: string): MicroError =>
    isMicroError(err)
      ? err
      : new MicroError(
          'unavailable',
          `nats registry: ${what} failed: ${err instanceof Error ? err.message : err}`,
          {
            cause: err,
          },
        );

  const followStatus = async (conn: NatsConnection): Promise<void> => {
    for await (const status of conn.status()) {
      if (status.type === 'disconnect' || status.type === 'close')
        watchers.fail(new MicroError('unavailable', `nats registry: watch connection lost (${status.type})`));
    }
  };

  const keyOf = (name: string, version: string, id: string): string =>
    `${token(name)}.${token(version)}.${token(id)}`;
  const identityOf = (key: string): string | undefined => {
    const parts = key.split('.');
    if (parts.length !== 3) return undefined;
    const [name, version, id] = parts.map(untoken) as [string, string, string];
    return identity(name, version, id);
  };
  const decode = (value: Uint8Array): Stored => {
    const stored = JSON.parse(new TextDecoder().decode(value)) as Stored;
    parseRecord(JSON.stringify(stored.record));
    return stored;
  };
  const live = (stored: Stored, now = Date.now()): boolean => stored.expires === null || stored.expires > now;
  const ttlOf = (stored: Stored): number | null =>
    stored.expires === null ? null : stored.expires - Date.now();

  const read = async (filter: string): Promise<{ key: string; stored: Stored; revision: number }[]> => {
    const k = await store();
    // The keys are the stream's subjects, listed in one request. kv.keys() runs a consumer instead, which
    // misses its end when keys change while it reads and then waits for its idle heartbeat (5 s).
    const info = await k.jsm.streams.info(k.stream, { subjects_filter: k.fullKeyName(filter) });
    const keys = Object.keys(info.state.subjects ?? {}).map((subject) =>
      k.decodeKey(subject.slice(k.prefixLen)),
    );
    const entries = await Promise.all(keys.map((key) => k.get(key)));
    const found: { key: string; stored: Stored; revision: number }[] = [];
    for (const entry of entries) {
      if (entry === null || entry.operation !== 'PUT') continue;
      found.push({ key: entry.key, stored: decode(entry.value), revision: entry.revision });
    }
    return found;
  };

  const sweep = async (): Promise<void> => {
    const k = await store();
    const now = Date.now();
    for (const { key, stored, revision } of await read('>')) {
      if (!live(stored, now)) await k.delete(key, { previousSeq: revision }).catch(() => undefined);
    }
  };

  const records = async (name?: string): Promise<LiveRecord[]> => {
    const found = await read(name === undefined ? '>' : `${token(name)}.>`);
    const now = Date.now();
    return found
      .filter((f) => live(f.stored, now))
      .map((f) => ({ record: f.stored.record, ttl: ttlOf(f.stored) }));
  };

  const put = async (k: Bucket, record: NodeRecord, expires: number | null): Promise<void> => {
    const key = keyOf(record.service.name, record.service.version, record.node.id);
    const data = JSON.stringify({ record, expires } satisfies Stored);
    for (let attempt = 0; ; attempt += 1) {
      const entry = await k.get(key);
      try {
        if (entry === null || entry.operation !== 'PUT') {
          await k.create(key, data);
        } else {
          const current = decode(entry.value);
          if (live(current) && current.record.node.address !== record.node.address)
            throw conflict(record, current.record.node.address);
          await k.update(key, data, entry.revision);
        }
        return;
      } catch (err) {
        // Another writer got in between the read and the write: read again.
        if (isMicroError(err) || attempt >= 3) throw err;
      }
    }
  };

  return {
    name: 'nats',
    async register(service: Service, opts: RegisterOptions = {}) {
      checkRegistration(service, opts.ttl, { maxRecordBytes });
      const expires = opts.ttl === undefined ? null : Date.now() + opts.ttl;
      try {
        const k = await store();
        for (const record of toRecords(service)) await put(k, record, expires);
      } catch (err) {
        throw wrap(err, `register ${service.name}`);
      }
    },
    async deregister(service: Service) {
      checkRegistration(service, undefined, { maxRecordBytes: Number.POSITIVE_INFINITY });
      try {
        const k = await store();
        for (const node of service.nodes) {
          const key = keyOf(service.name, service.version, node.id);
          const entry = await k.get(key);
          if (entry !== null && entry.operation === 'PUT') await k.delete(key);
        }
      } catch (err) {
        throw wrap(err, `deregister ${service.name}`);
      }
    },
    getService: (name: string) => lookupService(name, records, wrap),
    async listServices() {
      try {
        return toServices((await records()).map((f) => f.record));
      } catch (err) {
        throw wrap(err, 'listServices');
      }
    },
    watch(opts: WatchOptions = {}): AsyncIterable<RegistryEvent> {
      if (opts.service !== undefined) checkServiceName(opts.service);
      if (closed) throw new MicroError('failed_precondition', 'nats registry is closed');
      let stop: (() => void) | undefined;
      const state = watchers.add(opts.service, opts.signal, () => stop?.());
      const filter = opts.service === undefined ? '>' : `${token(opts.service)}.>`;
      const run = async (): Promise<void> => {
        const iterator = await (await store()).watch({ key: filter, include: KvWatchInclude.LastValue });
        stop = () => iterator.stop();
        if (state.ended) iterator.stop();
        for await (const entry of iterator) {
          if (entry.operation === 'PUT') {
            const stored = decode(entry.value);
            if (!live(stored)) continue;
            if (entry.isUpdate) state.put(stored.record, ttlOf(stored));
            else state.load([{ record: stored.record, ttl: ttlOf(stored) }]);
          } else {
            const id = identityOf(entry.key);
            if (id !== undefined) state.remove(id);
          }
        }
        state.channel.end();
      };
      run().catch((err: unknown) => state.channel.fail(wrap(err, 'watch')));
      return state.channel;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      watchers.end();
      if (owned && nc !== undefined) await (await nc.catch(() => undefined))?.close();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
