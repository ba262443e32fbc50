import { invalidArgument, MicroError } from '@micro-os/core';
import memjs from 'memjs';
import { createKV } from './create-kv.js';
import type { KVDriver, StoredItem, WriteCondition } from './driver.js';
import type { KV } from './kv.js';

export interface MemcachedKVOptions {
  /** A ready memjs client; it is used as is and left open by `close()`. */
  client?: memjs.Client;
  /** Connect lazily to these servers ("host:port,host:port") instead; the KV owns the client. */
  servers?: string;
  /** Prefix of every memcached key this KV writes. @default "micro-os:kv:" */
  keyPrefix?: string;
  /** Request and connect timeout of an owned client, in ms. @default 1000 */
  timeout?: number;
  /** Largest encoded value in bytes: memcached's item size (1 MiB) less room for key and header. @default 1047552 */
  maxValueSize?: number;
}

const op = { get: 0x00, set: 0x01, add: 0x02, delete: 0x04 } as const;
const status = { ok: 0, notFound: 1, exists: 2, tooLarge: 3 } as const;
/** memcached reads an expiry above 30 days as a unix time. */
const relativeLimit = 30 * 24 * 60 * 60;
const empty = Buffer.alloc(0);
/** Flags 0, expiry 0 (never): the extras of a write without ttl. */
const noExpiry = Buffer.alloc(8);
const high = 2 ** 32;

/** A 64-bit big-endian integer (CAS token, expiry ms) as a number; both stay far below 2^53. */
const read64 = (buffer: Buffer, offset: number): number =>
  buffer.readUInt32BE(offset) * high + buffer.readUInt32BE(offset + 4);
const write64 = (buffer: Buffer, value: number, offset: number): void => {
  buffer.writeUInt32BE(Math.floor(value / high), offset);
  buffer.writeUInt32BE(value % high, offset + 4);
};

/**
 * A KV on memcached through memjs's binary-protocol requests, so versions are memcached's CAS tokens.
 * memcached counts expiry in whole seconds, so each value also carries its expiry time in milliseconds and
 * reads hide it from then on. memcached cannot list keys: `keys()` and `clear()` answer `unimplemented`.
 */
export function memcachedKV(options: MemcachedKVOptions): KV {
  const { client: given, servers } = options;
  if ((given === undefined) === (servers === undefined)) {
    throw invalidArgument('memcachedKV needs exactly one of { client } or { servers }');
  }
  const timeout = options.timeout ?? 1000;
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw invalidArgument(`memcachedKV timeout must be > 0 ms, got ${String(options.timeout)}`);
  }
  const base = options.keyPrefix ?? 'micro-os:kv:';
  if (typeof base !== 'string') throw invalidArgument('memcachedKV keyPrefix must be a string');
  const client =
    given ??
    memjs.Client.create(servers, {
      timeout: timeout / 1000,
      conntimeout: timeout / 1000,
      retries: 1,
      logger: { log: () => undefined },
    });

  const request = (what: string, opcode: number, key: string, extras: Buffer, value: Buffer, cas = 0) =>
    new Promise<memjs.Response>((resolve, reject) => {
      client.incrSeq();
      const seq = client.seq;
      const fullKey = base + key;
      const buffer = memjs.Utils.makeRequestBuffer(opcode, fullKey, extras, value, seq);
      if (cas !== 0) write64(buffer, cas, 16);
      client.perform(fullKey, buffer, seq, (err: Error | null, response?: memjs.Response) => {
        if (err !== null || response === undefined) {
          const message = err?.message ?? 'no response';
          reject(new MicroError('unavailable', `memcached ${what} failed: ${message}`, { cause: err }));
        } else resolve(response);
      });
    });
  const unexpected = (what: string, key: string, response: memjs.Response): MicroError => {
    const code = response.header.status === status.tooLarge ? 'invalid_argument' : 'internal';
    return new MicroError(
      code,
      `memcached ${what} of key "${key}" answered status ${response.header.status}: ${response.val.toString()}`,
      {
        details: { status: response.header.status },
      },
    );
  };
  const parse = (key: string, response: memjs.Response): (StoredItem & { expired: boolean }) | undefined => {
    if (response.header.status === status.notFound) return undefined;
    if (response.header.status !== status.ok) throw unexpected('get', key, response);
    const expires = read64(response.val, 0);
    return {
      data: response.val.subarray(8),
      version: read64(response.header.cas, 0),
      expired: expires !== 0 && expires <= Date.now(),
    };
  };
  const read = (key: string) =>
    request('get', op.get, key, empty, empty).then((response) => parse(key, response));
  const store = (opcode: number, key: string, data: Uint8Array, ttl: number | undefined, cas = 0) => {
    // The value carries its expiry in ms (0 = never) ahead of the data: one allocation for both.
    const value = Buffer.allocUnsafe(8 + data.byteLength);
    value.set(data, 8);
    if (ttl === undefined) {
      value.fill(0, 0, 8);
      return request('put', opcode, key, noExpiry, value, cas);
    }
    write64(value, Date.now() + ttl, 0);
    // One second more than asked: memcached's clock ticks in seconds; reads hide the item on time.
    let exptime = Math.ceil(ttl / 1000) + 1;
    if (exptime > relativeLimit) exptime += Math.floor(Date.now() / 1000);
    const extras = Buffer.alloc(8);
    extras.writeUInt32BE(exptime, 4);
    return request('put', opcode, key, extras, value, cas);
  };
  const version = (response: memjs.Response): number => read64(response.header.cas, 0);
  const exists = (key: string): MicroError =>
    new MicroError('already_exists', `key "${key}" already exists`, { details: { key } });

  const driver: KVDriver = {
    name: 'memcached',
    maxKeyLength: 250 - Buffer.byteLength(base),
    maxValueSize: options.maxValueSize ?? 1024 * 1024 - 1024,
    get(key) {
      return read(key).then((item) => (item === undefined || item.expired ? undefined : item));
    },
    async getMany(keys) {
      return Promise.all(keys.map((key) => driver.get(key)));
    },
    async put(key, data, ttl, condition: WriteCondition) {
      if (condition.kind === 'none') {
        const response = await store(op.set, key, data, ttl);
        if (response.header.status !== status.ok) throw unexpected('set', key, response);
        return version(response);
      }
      if (condition.kind === 'version') {
        const response = await store(op.set, key, data, ttl, condition.version);
        if (response.header.status === status.exists || response.header.status === status.notFound) {
          throw new MicroError('aborted', `key "${key}" is not at version ${condition.version}`, {
            details: { key, expected: condition.version },
          });
        }
        if (response.header.status !== status.ok) throw unexpected('cas', key, response);
        return version(response);
      }
      const added = await store(op.add, key, data, ttl);
      if (added.header.status === status.ok) return version(added);
      if (added.header.status !== status.exists && added.header.status !== 5)
        throw unexpected('add', key, added);
      // Still in memcached but past its millisecond expiry: replace it if nobody else did meanwhile.
      const current = await read(key);
      if (current === undefined || !current.expired) throw exists(key);
      const replaced = await store(op.set, key, data, ttl, current.version);
      if (replaced.header.status !== status.ok) throw exists(key);
      return version(replaced);
    },
    async del(key) {
      const response = await request('delete', op.delete, key, empty, empty);
      if (response.header.status === status.notFound) return false;
      if (response.header.status !== status.ok) throw unexpected('delete', key, response);
      return true;
    },
    async has(key) {
      return (await driver.get(key)) !== undefined;
    },
    keys() {
      throw new MicroError(
        'unimplemented',
        'memcached cannot list keys: keys() is not available on this backend',
      );
    },
    async clear() {
      throw new MicroError(
        'unimplemented',
        'memcached cannot list keys, so clear() is not available on this backend',
      );
    },
    async close() {
      if (given === undefined) client.close();
    },
  };
  return createKV(driver);
}
