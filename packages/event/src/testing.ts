import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Delivery, Events } from './events.js';
import { type EventRecord, toCloudEvent } from './record.js';

export interface EventSuiteOptions {
  /** A fresh Events on the backend; called more than once (several processes share one stream). */
  create: () => Promise<Events> | Events;
  /** Factories that must refuse their options with invalid_argument (bad stream names...). */
  invalidFactories?: Array<() => unknown>;
  /** Largest record the backend stores, bytes; the suite publishes one byte more. @default 1 MiB - 4 KiB */
  maxRecordBytes?: number;
}

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const until = async (check: () => boolean, ms = 8000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await sleep(20);
  }
};
const collect = async <T>(iterable: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
};

/** The behaviour of `Events`, written once and run on every backend against its real server. */
export function eventSuite(name: string, options: EventSuiteOptions): void {
  describe(`Events conformance: ${name}`, () => {
    let events: Events;
    let other: Events;
    beforeAll(async () => {
      events = await options.create();
      other = await options.create();
    });
    afterAll(async () => {
      await events?.close();
      await other?.close();
    });

    it('a publish that resolves has been stored, with every field intact', async () => {
      const type = unique('order.created');
      const ack = await events.publish({
        type,
        source: '/orders',
        subject: 'orders/42',
        rootId: 'root-1',
        metadata: { traceparent: '00-abc-def-01' },
        data: { total: 42, items: ['a'] },
      });
      expect(ack.duplicate).toBe(false);
      const [stored] = await collect(other.replay(type));
      expect(stored).toMatchObject({
        id: ack.id,
        type,
        source: '/orders',
        subject: 'orders/42',
        rootId: 'root-1',
        metadata: { traceparent: '00-abc-def-01' },
        data: { total: 42, items: ['a'] },
      });
      expect(Number.isNaN(Date.parse(stored?.time ?? ''))).toBe(false);
      expect(toCloudEvent(stored as EventRecord)).toMatchObject({
        specversion: '1.0',
        id: ack.id,
        type,
        source: '/orders',
        subject: 'orders/42',
        rootid: 'root-1',
        traceparent: '00-abc-def-01',
        datacontenttype: 'application/json',
      });
    });

    it('a subscriber gets records published after it subscribed, acked once handled', async () => {
      const type = unique('sub');
      await events.publish({ type, data: 'before' });
      const got: unknown[] = [];
      const sub = await other.subscribe(type, (r) => {
        got.push(r.data);
      });
      await events.publish({ type, data: 1 });
      await events.publish({ type, data: 2 });
      await until(() => got.length === 2);
      await sleep(300);
      expect(got.sort()).toEqual([1, 2]);
      await sub.close();
    });

    it('each record goes to one member of a group, and every group gets every record', async () => {
      const type = unique('grp');
      const group = unique('g');
      const members: string[][] = [[], []];
      const audit: string[] = [];
      const subs = [
        await events.subscribe(type, (r) => void members[0]?.push(r.id), { group, from: 'start' }),
        await other.subscribe(type, (r) => void members[1]?.push(r.id), { group, from: 'start' }),
        await other.subscribe(type, (r) => void audit.push(r.id), { group: unique('audit'), from: 'start' }),
      ];
      const ids: string[] = [];
      for (let i = 0; i < 40; i += 1) ids.push((await events.publish({ type, data: i })).id);
      await until(() => (members[0]?.length ?? 0) + (members[1]?.length ?? 0) >= 40 && audit.length >= 40);
      await sleep(300);
      const both = [...(members[0] ?? []), ...(members[1] ?? [])];
      expect(both.sort()).toEqual([...ids].sort());
      expect(audit.sort()).toEqual([...ids].sort());
      for (const sub of subs) await sub.close();
    });

    it('a durable group resumes where it stopped', async () => {
      const type = unique('durable');
      const group = unique('g');
      const got: unknown[] = [];
      const first = await events.subscribe(type, (r) => void got.push(r.data), { group });
      await events.publish({ type, data: 'a' });
      await until(() => got.length === 1);
      await first.close();
      await events.publish({ type, data: 'b' });
      const second = await other.subscribe(type, (r) => void got.push(r.data), { group });
      await until(() => got.length === 2);
      expect(got).toEqual(['a', 'b']);
      await second.close();
    });

    it("from 'start' and from a Date start a new group in the past", async () => {
      const type = unique('from');
      await events.publish({ type, data: 'old' });
      await sleep(50);
      const mark = new Date();
      await sleep(50);
      await events.publish({ type, data: 'recent' });
      const all: unknown[] = [];
      const since: unknown[] = [];
      const a = await other.subscribe(type, (r) => void all.push(r.data), {
        group: unique('g'),
        from: 'start',
      });
      const b = await other.subscribe(type, (r) => void since.push(r.data), {
        group: unique('g'),
        from: mark,
      });
      await until(() => all.length === 2 && since.length === 1);
      expect(all).toEqual(['old', 'recent']);
      expect(since).toEqual(['recent']);
      await a.close();
      await b.close();
    });

    it('a handler that throws gets the record again, after the backoff, with the attempt number', async () => {
      const type = unique('retry');
      const deliveries: (Delivery & { at: number })[] = [];
      const sub = await other.subscribe(
        type,
        (_r, delivery) => {
          deliveries.push({ ...delivery, at: Date.now() });
          if (delivery.attempt < 3) throw new Error('not yet');
        },
        { group: unique('g'), backoff: 200, maxAttempts: 5 },
      );
      await events.publish({ type, data: 'x' });
      await until(() => deliveries.length === 3);
      await sleep(500);
      expect(deliveries.map((d) => d.attempt)).toEqual([1, 2, 3]);
      expect((deliveries[1]?.at ?? 0) - (deliveries[0]?.at ?? 0)).toBeGreaterThanOrEqual(150);
      await sub.close();
    });

    it('a handler that does not settle within ackWait gets the record again', async () => {
      const type = unique('ackwait');
      const attempts: number[] = [];
      const sub = await other.subscribe(
        type,
        async (_r, d) => {
          attempts.push(d.attempt);
          if (d.attempt === 1) await sleep(3000);
        },
        { group: unique('g'), ackWait: 1000, backoff: 0 },
      );
      await events.publish({ type, data: 'slow' });
      await until(() => attempts.includes(2), 8000);
      await sub.close();
    });

    it('a poison record is delivered exactly maxAttempts times, then dead-lettered, while others flow', async () => {
      const type = unique('poison');
      const group = unique('g');
      const poisonSeen: number[] = [];
      const good: unknown[] = [];
      const sub = await other.subscribe(
        type,
        (r, d) => {
          if (r.data === 'poison') {
            poisonSeen.push(d.attempt);
            throw new Error('cannot digest');
          }
          good.push(r.data);
        },
        { group, maxAttempts: 3, backoff: 100 },
      );
      const poison = await events.publish({ type, data: 'poison' });
      for (let i = 0; i < 10; i += 1) await events.publish({ type, data: i });
      await until(() => good.length === 10);
      let letters: Awaited<ReturnType<typeof collect<import('./events.js').DeadLetter>>> = [];
      await until(() => poisonSeen.length >= 3, 8000);
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        letters = (await collect(events.deadLetters({ group }))).filter((l) => l.record.id === poison.id);
        if (letters.length > 0) break;
        await sleep(100);
      }
      await sleep(1000);
      expect(poisonSeen).toEqual([1, 2, 3]);
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ group, attempts: 3, error: 'cannot digest' });
      expect(letters[0]?.record.data).toBe('poison');
      await sub.close();
    });

    it('the same id twice inside the dedupe window is stored and delivered once', async () => {
      const type = unique('dedupe');
      const got: string[] = [];
      const sub = await other.subscribe(type, (r) => void got.push(r.id), { group: unique('g') });
      const id = randomUUID();
      const first = await events.publish({ id, type, data: 1 });
      const second = await other.publish({ id, type, data: 1 });
      expect(first.duplicate).toBe(false);
      expect(second.duplicate).toBe(true);
      await until(() => got.length === 1);
      await sleep(300);
      expect(got).toEqual([id]);
      expect((await collect(events.replay(type))).map((r) => r.id)).toEqual([id]);
      await sub.close();
    });

    it('the same id published many times at once, among other records, is stored once', async () => {
      const type = unique('dedupe-burst');
      const id = randomUUID();
      const acks = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 === 0 ? events : other).publish({ type, data: i, ...(i % 4 === 0 ? { id } : {}) }),
        ),
      );
      expect(acks.filter((a) => a.id === id && !a.duplicate)).toHaveLength(1);
      expect(acks.filter((a) => a.id === id && a.duplicate)).toHaveLength(9);
      expect(acks.filter((a) => a.id !== id).every((a) => !a.duplicate)).toBe(true);
      const stored = (await collect(events.replay(type))).map((r) => r.id);
      expect(stored).toHaveLength(31);
      expect(stored.filter((s) => s === id)).toHaveLength(1);
    });

    it('replay yields stored records of the types, oldest first, between from and to', async () => {
      const a = unique('replay-a');
      const b = unique('replay-b');
      await events.publish({ type: a, data: 1 });
      await events.publish({ type: b, data: 2 });
      await events.publish({ type: unique('other'), data: 'x' });
      await sleep(50);
      const mark = new Date();
      await sleep(50);
      await events.publish({ type: a, data: 3 });
      expect((await collect(other.replay([a, b]))).map((r) => r.data)).toEqual([1, 2, 3]);
      expect((await collect(other.replay([a, b], { to: mark }))).map((r) => r.data)).toEqual([1, 2]);
      expect((await collect(other.replay(a, { from: mark }))).map((r) => r.data)).toEqual([3]);
      expect(await collect(other.replay(unique('none')))).toEqual([]);
    });

    it('rejects bad input with invalid_argument', async () => {
      const type = unique('bad');
      const noop = (): void => undefined;
      const bad = { code: 'invalid_argument' };
      for (const t of ['', 'has space', 'a.*', 'a.>', 'a..b', '.a'])
        await expect(events.publish({ type: t, data: 1 })).rejects.toMatchObject(bad);
      for (const subject of ['', 'a b', 'orders.*', 'orders.>', 'tab\there'])
        await expect(events.publish({ type, subject, data: 1 })).rejects.toMatchObject(bad);
      const max = options.maxRecordBytes ?? 1024 * 1024 - 4096;
      await expect(events.publish({ type, data: 'x'.repeat(max + 1) })).rejects.toMatchObject(bad);
      for (const group of ['a.b', 'a*', 'a>', 'a/b', 'a b', ''])
        await expect(events.subscribe(type, noop, { group })).rejects.toMatchObject(bad);
      for (const t of ['', 'x y', 'a.*']) await expect(events.subscribe(t, noop)).rejects.toMatchObject(bad);
      await expect(events.subscribe([], noop)).rejects.toMatchObject(bad);
      await expect(events.subscribe(type, noop, { ackWait: 0 })).rejects.toMatchObject(bad);
      await expect(events.subscribe(type, noop, { ackWait: -5 })).rejects.toMatchObject(bad);
      await expect(events.subscribe(type, noop, { maxAttempts: 0 })).rejects.toMatchObject(bad);
      await expect(collect(events.replay('a b'))).rejects.toMatchObject(bad);
      for (const factory of options.invalidFactories ?? []) {
        expect(factory).toThrow(expect.objectContaining(bad));
      }
    });
  });
}
