import { invalidArgument, MicroError } from '@micro-os/core';
import { createKV } from './create-kv.js';
import type { KVDriver, StoredItem, WriteCondition } from './driver.js';
import type { KV } from './kv.js';

export interface MemoryKVOptions {
  /** Most items kept; the least recently used goes first when full. @default Infinity */
  maxEntries?: number;
}

interface Slot extends StoredItem {
  /** Epoch ms after which the item is gone; Infinity for never. */
  expires: number;
}

/**
 * An in-process KV for one process and for tests. Expiry is lazy (checked on every read), so no timer
 * keeps the process alive; `maxEntries` bounds memory with LRU eviction.
 */
export function memoryKV(options: MemoryKVOptions = {}): KV {
  const maxEntries = options.maxEntries ?? Number.POSITIVE_INFINITY;
  if (!(maxEntries === Number.POSITIVE_INFINITY || (Number.isSafeInteger(maxEntries) && maxEntries > 0))) {
    throw invalidArgument(
      `memoryKV maxEntries must be a positive integer, got ${String(options.maxEntries)}`,
    );
  }
  const items = new Map<string, Slot>();
  /** Versions keep growing across delete and re-create, so a stale version never matches again. */
  let clock = 0;

  const live = (key: string): Slot | undefined => {
    const slot = items.get(key);
    if (slot === undefined) return undefined;
    if (slot.expires <= Date.now()) {
      items.delete(key);
      return undefined;
    }
    return slot;
  };
  const touch = (key: string): StoredItem | undefined => {
    const slot = live(key);
    if (slot === undefined) return undefined;
    items.delete(key);
    items.set(key, slot);
    return { data: new Uint8Array(slot.data), version: slot.version };
  };

  const driver: KVDriver = {
    name: 'memory',
    maxKeyLength: 1024,
    maxValueSize: 512 * 1024 * 1024,
    async get(key) {
      return touch(key);
    },
    async getMany(keys) {
      return keys.map(touch);
    },
    async put(key, data, ttl, condition: WriteCondition) {
      const current = live(key);
      if (condition.kind === 'absent' && current !== undefined) {
        throw new MicroError('already_exists', `key "${key}" already exists`, { details: { key } });
      }
      if (condition.kind === 'version' && current?.version !== condition.version) {
        throw new MicroError(
          'aborted',
          `key "${key}" is at version ${current?.version ?? 'none'}, not ${condition.version}`,
          { details: { key, expected: condition.version, actual: current?.version ?? null } },
        );
      }
      clock += 1;
      items.delete(key);
      items.set(key, {
        data: new Uint8Array(data),
        version: clock,
        expires: ttl === undefined ? Number.POSITIVE_INFINITY : Date.now() + ttl,
      });
      while (items.size > maxEntries) {
        const oldest = items.keys().next().value as string;
        items.delete(oldest);
      }
      return clock;
    },
    async del(key) {
      const existed = live(key) !== undefined;
      items.delete(key);
      return existed;
    },
    async has(key) {
      return live(key) !== undefined;
    },
    async *keys(prefix) {
      for (const key of [...items.keys()]) {
        if (key.startsWith(prefix) && live(key) !== undefined) yield key;
      }
    },
    async clear(prefix) {
      for (const key of [...items.keys()]) if (key.startsWith(prefix)) items.delete(key);
    },
    async close() {
      items.clear();
    },
  };
  return createKV(driver);
}
