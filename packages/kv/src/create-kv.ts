import { invalidArgument, MicroError } from '@micro-os/core';
import type { KVDriver } from './driver.js';
import type { Entry, KV, PutManyItem, PutOptions, Value } from './kv.js';
import { checkCondition, checkKey, checkNamespace, checkTtl, separator } from './validate.js';
import { decodeValue, encodeValue } from './value-codec.js';

interface Shared {
  driver: KVDriver;
  closed: boolean;
}

/**
 * Turns a driver into a `KV`: validation, value encoding and namespaces are done here, once for every
 * backend. Third-party backends implement `KVDriver` and call this.
 */
export function createKV(driver: KVDriver): KV {
  return view({ driver, closed: false }, '', true);
}

function view(shared: Shared, prefix: string, root: boolean): KV {
  const { driver } = shared;
  const open = (): void => {
    if (shared.closed) throw new MicroError('failed_precondition', `${driver.name} kv is closed`);
  };
  const fullKey = (key: unknown): string => {
    open();
    return checkKey(key, prefix, driver.maxKeyLength);
  };
  /** Runs `run` with its synchronous throws turned into rejections, without another promise layer. */
  const attempt = <T>(run: () => Promise<T>): Promise<T> => {
    try {
      return run();
    } catch (err) {
      return Promise.reject(err);
    }
  };
  const encode = (key: string, value: Value): Uint8Array => {
    if (value === undefined) throw invalidArgument(`value for key "${key}" is undefined; use del to remove`);
    const data = encodeValue(value, key);
    if (data.byteLength > driver.maxValueSize) {
      throw invalidArgument(
        `value for key "${key}" is ${data.byteLength} bytes encoded, over the ${driver.name} limit of ${driver.maxValueSize}`,
        { size: data.byteLength, max: driver.maxValueSize },
      );
    }
    return data;
  };
  const put = (key: string, value: Value, options: PutOptions = {}): Promise<number> =>
    attempt(() => {
      const full = fullKey(key);
      const ttl = checkTtl(options.ttl, key);
      const condition = checkCondition(options, key);
      return driver.put(full, encode(key, value), ttl, condition);
    });
  const kv: KV = {
    name: driver.name,
    prefix,
    get<V extends Value = Value>(key: string): Promise<V | undefined> {
      return attempt(() =>
        driver
          .get(fullKey(key))
          .then((item) => (item === undefined ? undefined : (decodeValue(item.data) as V))),
      );
    },
    getEntry<V extends Value = Value>(key: string): Promise<Entry<V> | undefined> {
      return attempt(() =>
        driver
          .get(fullKey(key))
          .then((item) =>
            item === undefined
              ? undefined
              : { key, value: decodeValue(item.data) as V, version: item.version },
          ),
      );
    },
    put,
    del(key) {
      return attempt(() => driver.del(fullKey(key)));
    },
    has(key) {
      return attempt(() => driver.has(fullKey(key)));
    },
    async getMany<V extends Value = Value>(keys: readonly string[]): Promise<(V | undefined)[]> {
      open();
      if (!Array.isArray(keys)) throw invalidArgument('getMany expects an array of keys');
      if (keys.length === 0) return [];
      const items = await driver.getMany(keys.map(fullKey));
      return items.map((item) => (item === undefined ? undefined : (decodeValue(item.data) as V)));
    },
    async putMany(items: readonly PutManyItem[]) {
      open();
      if (!Array.isArray(items)) throw invalidArgument('putMany expects an array of { key, value, ttl? }');
      const prepared = items.map((item) => {
        const full = fullKey(item?.key);
        return { full, data: encode(item.key, item.value), ttl: checkTtl(item.ttl, item.key) };
      });
      return Promise.all(prepared.map((p) => driver.put(p.full, p.data, p.ttl, { kind: 'none' })));
    },
    keys(keyPrefix = '') {
      if (typeof keyPrefix !== 'string')
        throw invalidArgument(`keys prefix must be a string, got ${typeof keyPrefix}`);
      return {
        async *[Symbol.asyncIterator]() {
          open();
          for await (const full of driver.keys(prefix + keyPrefix)) yield full.slice(prefix.length);
        },
      };
    },
    namespace(name) {
      return view(shared, `${prefix}${checkNamespace(name)}${separator}`, false);
    },
    async clear() {
      open();
      await driver.clear(prefix);
    },
    async close() {
      if (!root || shared.closed) return;
      shared.closed = true;
      await driver.close();
    },
    async [Symbol.asyncDispose]() {
      await kv.close();
    },
  };
  return kv;
}
