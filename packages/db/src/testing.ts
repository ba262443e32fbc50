import { randomUUID } from 'node:crypto';
import { isMicroError } from '@micro-os/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DB, DBRecord, NewRecord, SearchQuery } from './db.js';

export interface DBSuiteOptions {
  /** A fresh, empty DB on the backend under test (unique table or name); the suite closes it. */
  create: () => DB | Promise<DB>;
}

const code = async (run: () => unknown): Promise<string> => {
  try {
    await run();
    return 'ok';
  } catch (err) {
    return isMicroError(err) ? err.code : `not a MicroError: ${String(err)}`;
  }
};
const ids = (records: DBRecord[]): string[] => records.map((r) => r.id);
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

/** The behaviour of `DB`, written once; every backend's test file runs it against the real server. */
export function dbSuite(name: string, options: DBSuiteOptions): void {
  describe(`DB conformance: ${name}`, () => {
    const opened: DB[] = [];
    let db: DB;
    const fresh = async (): Promise<DB> => {
      const made = await options.create();
      opened.push(made);
      return made;
    };
    beforeAll(async () => {
      db = await fresh();
    });
    afterAll(async () => {
      await Promise.all(opened.map((d) => d.close()));
    });
    const unique = (): string => randomUUID();

    it('creates a record at version 1 and reads it back', async () => {
      const id = unique();
      const made = await db.create({
        id,
        metadata: { kind: 'user', age: 30, admin: true },
        data: { name: 'Ada' },
      });
      expect(made).toMatchObject({
        id,
        version: 1,
        metadata: { kind: 'user', age: 30, admin: true },
        data: { name: 'Ada' },
      });
      expect(made.created).toBe(made.updated);
      expect(Math.abs(made.created - Date.now())).toBeLessThan(60_000);
      expect(await db.read(id)).toEqual(made);
    });

    it('defaults metadata to {} and data to null', async () => {
      const id = unique();
      await db.create({ id });
      expect(await db.read(id)).toMatchObject({ id, metadata: {}, data: null });
    });

    it('keeps JSON data intact: nesting, unicode, numbers, empty strings', async () => {
      const id = unique();
      const data = {
        list: [1, -2.5, 1e21, 0, true, null, ''],
        nested: { ключ: '値 😀', 'a"b': "c'd" },
        s: '',
      };
      await db.create({ id, data });
      expect((await db.read(id)).data).toEqual(data);
    });

    it('create of an existing id answers already_exists and changes nothing', async () => {
      const id = unique();
      await db.create({ id, data: 'first' });
      expect(await code(() => db.create({ id, data: 'second' }))).toBe('already_exists');
      expect((await db.read(id)).data).toBe('first');
    });

    it('read, update and delete of a missing id answer not_found', async () => {
      const id = unique();
      expect(await code(() => db.read(id))).toBe('not_found');
      expect(await code(() => db.update({ id, version: 1, data: 1 }))).toBe('not_found');
      expect(await code(() => db.delete(id))).toBe('not_found');
    });

    it('update with the current version replaces the given fields and moves version and updated', async () => {
      const id = unique();
      const made = await db.create({ id, metadata: { state: 'new' }, data: { n: 1 } });
      await tick();
      const next = await db.update({ id, version: 1, data: { n: 2 } });
      expect(next).toMatchObject({
        id,
        version: 2,
        created: made.created,
        metadata: { state: 'new' },
        data: { n: 2 },
      });
      expect(next.updated).toBeGreaterThan(made.updated);
      const third = await db.update({ id, version: 2, metadata: { state: 'done' } });
      expect(third).toMatchObject({ version: 3, metadata: { state: 'done' }, data: { n: 2 } });
      expect(await db.read(id)).toEqual(third);
    });

    it('update with a stale version answers aborted and leaves the record unchanged', async () => {
      const id = unique();
      await db.create({ id, data: 'v1' });
      const current = await db.update({ id, version: 1, data: 'v2' });
      expect(await code(() => db.update({ id, version: 1, data: 'stale' }))).toBe('aborted');
      expect(await db.read(id)).toEqual(current);
    });

    it('of 20 concurrent updates from the same version exactly one wins', async () => {
      const id = unique();
      await db.create({ id, data: 0 });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => code(() => db.update({ id, version: 1, data: i }))),
      );
      expect(results.filter((r) => r === 'ok')).toHaveLength(1);
      expect(results.filter((r) => r === 'aborted')).toHaveLength(19);
      expect((await db.read(id)).version).toBe(2);
    });

    it('delete removes the record from reads and searches', async () => {
      const id = unique();
      const tag = unique();
      await db.create({ id, metadata: { tag } });
      await db.delete(id);
      expect(await code(() => db.read(id))).toBe('not_found');
      expect(await db.search({ metadata: { tag } })).toEqual([]);
      await db.create({ id, metadata: { tag: 'again' } });
      expect((await db.read(id)).version).toBe(1);
    });

    it('search matches every metadata pair by equality, type included', async () => {
      const tag = unique();
      const make = (id: string, metadata: NewRecord['metadata']) =>
        db.create({ id: `${tag}-${id}`, metadata: { tag, ...metadata } });
      await make('a', { color: 'red', size: 1, on: true });
      await make('b', { color: 'red', size: 2, on: false });
      await make('c', { color: 'blue', size: 1, on: true });
      await make('d', { color: 'red', size: '1' });
      const find = async (metadata: NewRecord['metadata']): Promise<string[]> =>
        ids(await db.search({ metadata: { tag, ...metadata }, orderBy: 'id' })).map((id) =>
          id.slice(tag.length + 1),
        );
      expect(await find({ color: 'red' })).toEqual(['a', 'b', 'd']);
      expect(await find({ color: 'red', size: 1 })).toEqual(['a']);
      expect(await find({ size: '1' })).toEqual(['d']);
      expect(await find({ on: true })).toEqual(['a', 'c']);
      expect(await find({ on: false, color: 'blue' })).toEqual([]);
      expect(await find({ missing: 'x' })).toEqual([]);
      expect(await find({})).toEqual(['a', 'b', 'c', 'd']);
    });

    it('search follows metadata changes made by update', async () => {
      const tag = unique();
      const id = unique();
      await db.create({ id, metadata: { tag, state: 'open' } });
      await db.update({ id, version: 1, metadata: { tag, state: 'closed' } });
      expect(await db.search({ metadata: { tag, state: 'open' } })).toEqual([]);
      expect(ids(await db.search({ metadata: { tag, state: 'closed' } }))).toEqual([id]);
    });

    it('orders by created, updated or id, either way, ties broken by id', async () => {
      const own = await fresh();
      const made: string[] = [];
      for (const id of ['c', 'a', 'd', 'b']) {
        await own.create({ id, metadata: { all: true } });
        made.push(id);
        await tick();
      }
      await own.update({ id: 'a', version: 1, data: 'touched' });
      const order = async (query: SearchQuery): Promise<string[]> => ids(await own.search(query));
      expect(await order({})).toEqual(made);
      expect(await order({ orderBy: 'created', order: 'desc' })).toEqual([...made].reverse());
      expect(await order({ orderBy: 'updated', order: 'desc' })).toEqual(['a', 'b', 'd', 'c']);
      expect(await order({ orderBy: 'id' })).toEqual(['a', 'b', 'c', 'd']);
      expect(await order({ orderBy: 'id', order: 'desc', metadata: { all: true } })).toEqual([
        'd',
        'c',
        'b',
        'a',
      ]);
    });

    it('pages with limit and offset without gaps or repeats', async () => {
      const own = await fresh();
      const all = Array.from({ length: 25 }, (_, i) => `r${String(i).padStart(2, '0')}`);
      await Promise.all(
        all.map((id) => own.create({ id, metadata: { even: Number(id.slice(1)) % 2 === 0 } })),
      );
      const pages: string[] = [];
      for (let offset = 0; offset < 30; offset += 10)
        pages.push(...ids(await own.search({ orderBy: 'id', limit: 10, offset })));
      expect(pages).toEqual(all);
      expect(ids(await own.search({ metadata: { even: true }, orderBy: 'id', limit: 3, offset: 2 }))).toEqual(
        ['r04', 'r06', 'r08'],
      );
      expect(await own.search({ limit: 5, offset: 25 })).toEqual([]);
      expect(await own.search()).toHaveLength(25);
    });

    it('rejects bad input with invalid_argument', async () => {
      const bad: (() => unknown)[] = [
        () => db.create({ id: '' }),
        () => db.create({ id: 42 as unknown as string }),
        () => db.create({ id: 'x'.repeat(513) }),
        () => db.create({ id: 'ok', metadata: { nested: { a: 1 } as unknown as string } }),
        () => db.create({ id: 'ok', metadata: { list: [1] as unknown as string } }),
        () => db.create({ id: 'ok', metadata: { nan: Number.NaN } }),
        () => db.create({ id: 'ok', metadata: { nul: null as unknown as string } }),
        () => db.create({ id: 'ok', metadata: [] as unknown as Record<string, string> }),
        () => db.create({ id: 'ok', data: (() => 1) as unknown as null }),
        () => db.create({ id: 'ok', data: { n: Number.POSITIVE_INFINITY } }),
        () => db.create({ id: 'ok', data: { when: new Date() } as unknown as null }),
        () => db.read(''),
        () => db.delete(''),
        () => db.update({ id: 'ok', version: 0 }),
        () => db.update({ id: 'ok', version: '1' as unknown as number }),
        () => db.search({ limit: 0 }),
        () => db.search({ limit: -1 }),
        () => db.search({ limit: 1.5 }),
        () => db.search({ offset: -1 }),
        () => db.search({ orderBy: 'name' as 'id' }),
        () => db.search({ order: 'up' as 'asc' }),
        () => db.search({ metadata: { a: { b: 1 } as unknown as string } }),
      ];
      for (const [i, call] of bad.entries()) expect(`${i}:${await code(call)}`).toBe(`${i}:invalid_argument`);
      expect(await code(() => db.read('ok'))).toBe('not_found');
    });

    it('fails with failed_precondition after close, and closing twice is harmless', async () => {
      const other = await options.create();
      await other.close();
      await other.close();
      expect(await code(() => other.read('x'))).toBe('failed_precondition');
    });
  });
}
