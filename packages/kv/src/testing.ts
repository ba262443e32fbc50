import { randomUUID } from 'node:crypto';
import { isMicroError } from '@micro-os/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KV, Value } from './kv.js';

export interface KVSuiteOptions {
  /** A fresh KV on the backend under test; the suite closes it. */
  create: () => KV | Promise<KV>;
  /** Smallest TTL step the backend honours. @default "milliseconds" */
  ttlGranularity?: 'milliseconds' | 'seconds';
  /** Whether `keys()` and `clear()` work (memcached cannot list keys). @default true */
  canListKeys?: boolean;
  /** The backend's value size limit, when it is small enough to test (memcached: 1 MiB). */
  maxValueSize?: number;
  /** The backend's key length limit in bytes, namespace included. @default 1024 */
  maxKeyLength?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const code = async (promise: Promise<unknown> | (() => unknown)): Promise<string> => {
  try {
    await (typeof promise === 'function' ? promise() : promise);
    return 'ok';
  } catch (err) {
    return isMicroError(err) ? err.code : `not a MicroError: ${String(err)}`;
  }
};

/** The behaviour of `KV`, written once; every backend's test file runs it against the real server. */
export function kvSuite(name: string, options: KVSuiteOptions): void {
  const listable = options.canListKeys ?? true;
  const seconds = options.ttlGranularity === 'seconds';
  const maxKeyLength = options.maxKeyLength ?? 1024;

  describe(`KV conformance: ${name}`, () => {
    let root: KV;
    let kv: KV;
    beforeAll(async () => {
      root = await options.create();
      kv = root.namespace(`suite-${randomUUID().slice(0, 8)}`);
    });
    afterAll(async () => {
      if (listable) await kv?.clear();
      await root?.close();
    });
    const ns = (): KV => kv.namespace(randomUUID().slice(0, 8));

    it('answers undefined for an absent key', async () => {
      expect(await kv.get('absent')).toBeUndefined();
      expect(await kv.getEntry('absent')).toBeUndefined();
      expect(await kv.has('absent')).toBe(false);
    });

    it('brings back every JSON value as it went in', async () => {
      const values: Value[] = [
        { a: 1, b: [true, null, 'x'], c: { d: -1.5 } },
        [1, 'two', { three: 3 }],
        'plain string',
        '',
        0,
        -42.25,
        true,
        false,
        null,
        'ünïcödé ✓ 日本語 😀',
      ];
      for (const [i, value] of values.entries()) {
        await kv.put(`json-${i}`, value);
        expect(await kv.get(`json-${i}`)).toEqual(value);
      }
    });

    it('brings back bytes as a Uint8Array, byte for byte, including empty', async () => {
      const bytes = new Uint8Array(256).map((_, i) => i);
      await kv.put('bytes', bytes);
      const got = await kv.get('bytes');
      expect(got).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(got as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
      await kv.put('empty-bytes', new Uint8Array(0));
      const empty = await kv.get('empty-bytes');
      expect(empty).toBeInstanceOf(Uint8Array);
      expect((empty as Uint8Array).byteLength).toBe(0);
    });

    it('stores a copy: changing the bytes after put or after get changes nothing stored', async () => {
      const bytes = new Uint8Array([1, 2, 3]);
      await kv.put('copy', bytes);
      bytes[0] = 9;
      const got = (await kv.get('copy')) as Uint8Array;
      got[1] = 9;
      expect([...((await kv.get('copy')) as Uint8Array)]).toEqual([1, 2, 3]);
    });

    it('stores a 1 MiB value (or the largest the backend allows)', async () => {
      const size = Math.min(1024 * 1024, (options.maxValueSize ?? Number.POSITIVE_INFINITY) - 1024);
      const big = new Uint8Array(size).map((_, i) => (i * 7) % 256);
      await kv.put('big', big);
      const got = (await kv.get('big')) as Uint8Array;
      expect(got.byteLength).toBe(size);
      expect(Buffer.from(got).equals(Buffer.from(big))).toBe(true);
    });

    it('keeps keys with special characters apart', async () => {
      const keys = ['a b', 'a:b', 'a/b', '{a}', 'a*', 'a?', '[a]', 'a\\b', 'ключ', '🔑', "a'b", 'a"b', 'a%_'];
      await Promise.all(keys.map((key) => kv.put(key, key)));
      for (const key of keys) expect(await kv.get(key)).toBe(key);
    });

    it('gives every write a higher version and reports it with the value', async () => {
      const v1 = await kv.put('versioned', 'one');
      const v2 = await kv.put('versioned', 'two');
      expect(v2).toBeGreaterThan(v1);
      expect(await kv.getEntry('versioned')).toEqual({ key: 'versioned', value: 'two', version: v2 });
    });

    it('ifAbsent writes once, then answers already_exists', async () => {
      expect(await kv.put('once', 1, { ifAbsent: true })).toBeGreaterThan(0);
      expect(await code(kv.put('once', 2, { ifAbsent: true }))).toBe('already_exists');
      expect(await kv.get('once')).toBe(1);
    });

    it('a write with a stale version answers aborted and leaves value and version unchanged', async () => {
      const v1 = await kv.put('cas', 'first');
      const v2 = await kv.put('cas', 'second', { ifVersion: v1 });
      expect(await code(kv.put('cas', 'stale', { ifVersion: v1 }))).toBe('aborted');
      expect(await kv.getEntry('cas')).toEqual({ key: 'cas', value: 'second', version: v2 });
      expect(await code(kv.put('cas-missing', 'x', { ifVersion: v1 }))).toBe('aborted');
      expect(await kv.has('cas-missing')).toBe(false);
    });

    it('50 concurrent read-increment-CAS loops lose no update', async () => {
      const space = ns();
      await space.put('counter', 0);
      const tasks = 50;
      const rounds = 4;
      await Promise.all(
        Array.from({ length: tasks }, async () => {
          for (let done = 0; done < rounds; ) {
            const entry = await space.getEntry<number>('counter');
            if (entry === undefined) throw new Error('counter vanished');
            try {
              await space.put('counter', entry.value + 1, { ifVersion: entry.version });
              done += 1;
            } catch (err) {
              if (!isMicroError(err, 'aborted')) throw err;
            }
          }
        }),
      );
      expect(await space.get('counter')).toBe(tasks * rounds);
    });

    it('del answers whether the key was there, and has follows', async () => {
      await kv.put('doomed', 'x');
      expect(await kv.has('doomed')).toBe(true);
      expect(await kv.del('doomed')).toBe(true);
      expect(await kv.has('doomed')).toBe(false);
      expect(await kv.get('doomed')).toBeUndefined();
      expect(await kv.del('doomed')).toBe(false);
    });

    it('getMany answers in order with undefined for absent keys; putMany writes a large batch', async () => {
      const space = ns();
      const items = Array.from({ length: 1000 }, (_, i) => ({ key: `item-${i}`, value: { i } }));
      const versions = await space.putMany(items);
      expect(versions).toHaveLength(1000);
      const got = await space.getMany(['item-5', 'nope', 'item-999']);
      expect(got).toEqual([{ i: 5 }, undefined, { i: 999 }]);
      expect(await space.getMany(items.map((item) => item.key))).toEqual(items.map((item) => item.value));
      if (listable) await space.clear();
    });

    it('an item with ttl 1 s is present at once and gone by 2 s', async () => {
      await kv.put('ttl-1s', 'soon gone', { ttl: 1000 });
      expect(await kv.get('ttl-1s')).toBe('soon gone');
      await sleep(2000);
      expect(await kv.get('ttl-1s')).toBeUndefined();
      expect(await kv.has('ttl-1s')).toBe(false);
      expect(await kv.getMany(['ttl-1s'])).toEqual([undefined]);
    });

    it.skipIf(seconds)('honours a ttl of a few milliseconds', async () => {
      await kv.put('ttl-ms', 'x', { ttl: 40 });
      expect(await kv.get('ttl-ms')).toBe('x');
      await sleep(120);
      expect(await kv.get('ttl-ms')).toBeUndefined();
    });

    it('ifAbsent succeeds again once the item expired', async () => {
      await kv.put('expiring-once', 1, { ttl: seconds ? 1000 : 50 });
      await sleep(seconds ? 2100 : 150);
      expect(await kv.put('expiring-once', 2, { ifAbsent: true })).toBeGreaterThan(0);
      expect(await kv.get('expiring-once')).toBe(2);
    });

    it('a put without ttl makes an expiring item permanent', async () => {
      await kv.put('made-permanent', 1, { ttl: 1000 });
      await kv.put('made-permanent', 2);
      await sleep(2000);
      expect(await kv.get('made-permanent')).toBe(2);
    });

    it.runIf(listable)('keys lists live keys by prefix, relative to the namespace', async () => {
      const space = ns();
      await space.putMany([
        { key: 'user:1', value: 1 },
        { key: 'user:2', value: 2 },
        { key: 'user*', value: 3 },
        { key: 'order:1', value: 4 },
      ]);
      await space.put('user:3', 5, { ttl: 30 });
      await sleep(100);
      const keys: string[] = [];
      for await (const key of space.keys('user:')) keys.push(key);
      expect(keys.sort()).toEqual(['user:1', 'user:2']);
      const all: string[] = [];
      for await (const key of space.keys()) all.push(key);
      expect(all.sort()).toEqual(['order:1', 'user*', 'user:1', 'user:2']);
      await space.clear();
    });

    it.runIf(listable)('clear removes only the namespace, and namespaces keep keys apart', async () => {
      const parent = ns();
      const a = parent.namespace('a');
      const b = parent.namespace('b');
      await a.put('k', 'in a');
      await b.put('k', 'in b');
      await parent.put('a-sibling', 'parent');
      expect(await parent.get('a:k')).toBe('in a');
      expect(a.prefix.endsWith(':a:')).toBe(true);
      await a.clear();
      expect(await a.get('k')).toBeUndefined();
      expect(await b.get('k')).toBe('in b');
      expect(await parent.get('a-sibling')).toBe('parent');
      const left: string[] = [];
      for await (const key of parent.keys()) left.push(key);
      expect(left.sort()).toEqual(['a-sibling', 'b:k']);
      await parent.clear();
    });

    it.runIf(!listable)('keys and clear answer unimplemented', async () => {
      expect(await code(async () => kv.keys()[Symbol.asyncIterator]().next())).toBe('unimplemented');
      expect(await code(kv.clear())).toBe('unimplemented');
    });

    it('rejects bad keys, values, ttls and conditions with invalid_argument', async () => {
      const bad = [
        () => kv.get(''),
        () => kv.get(42 as unknown as string),
        () => kv.put('', 1),
        () => kv.put(undefined as unknown as string, 1),
        () => kv.put('nul\0key', 1),
        () => kv.put('x'.repeat(maxKeyLength + 1), 1),
        () => kv.put('k', undefined as unknown as Value),
        () => kv.put('k', (() => 1) as unknown as Value),
        () => kv.put('k', { nested: () => 1 } as unknown as Value),
        () => kv.put('k', Symbol('s') as unknown as Value),
        () => kv.put('k', 10n as unknown as Value),
        () => kv.put('k', Number.NaN),
        () => kv.put('k', { when: new Date() } as unknown as Value),
        () => kv.put('k', new Map() as unknown as Value),
        () => kv.put('k', new ArrayBuffer(4) as unknown as Value),
        () => {
          const cycle: Record<string, unknown> = {};
          cycle.self = cycle;
          return kv.put('k', cycle as Value);
        },
        () => kv.put('k', 1, { ttl: 0 }),
        () => kv.put('k', 1, { ttl: -5 }),
        () => kv.put('k', 1, { ttl: Number.NaN }),
        () => kv.put('k', 1, { ttl: '10' as unknown as number }),
        () => kv.put('k', 1, { ifVersion: 0 }),
        () => kv.put('k', 1, { ifVersion: 1.5 }),
        () => kv.put('k', 1, { ifVersion: 1, ifAbsent: true }),
        () => kv.putMany([{ key: '', value: 1 }]),
        () => kv.getMany(['ok', '']),
        () => kv.namespace('a:b'),
        () => kv.namespace(''),
      ];
      for (const [i, call] of bad.entries()) expect(`${i}:${await code(call)}`).toBe(`${i}:invalid_argument`);
      expect(await kv.has('k')).toBe(false);
    });

    it.runIf(options.maxValueSize !== undefined)('rejects a value over the item size limit', async () => {
      const big = new Uint8Array((options.maxValueSize ?? 0) + 1);
      expect(await code(kv.put('too-big', big))).toBe('invalid_argument');
    });

    it('fails with failed_precondition after close, and closing twice is harmless', async () => {
      const other = await options.create();
      await other.close();
      await other.close();
      expect(await code(other.get('k'))).toBe('failed_precondition');
    });
  });
}
