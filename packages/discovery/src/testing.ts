import { randomUUID } from 'node:crypto';
import type { Registry, RegistryEvent, Service } from '@micro-os/core';
import { registrySuite } from '@micro-os/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heartbeat } from './heartbeat.js';

export interface DiscoverySuiteOptions {
  /** A fresh registry on the backend; called more than once (several watchers, several nodes). */
  create: () => Promise<Registry> | Registry;
  /** Extra time the backend needs before an expired TTL is seen (ms). @default 500 */
  ttlSlack?: number;
}

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const until = async (check: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const service = (name: string, ids: string[], extra: Partial<Service> = {}): Service => ({
  name,
  version: '1.0.0',
  metadata: {},
  endpoints: [],
  nodes: ids.map((id) => ({ id, address: `127.0.0.1:${4000 + id.length}`, metadata: {} })),
  ...extra,
});

/** Collects a registry's watch events until `stop()`. */
function collect(registry: Registry, name: string): { events: RegistryEvent[]; stop: () => Promise<void> } {
  const controller = new AbortController();
  const events: RegistryEvent[] = [];
  const done = (async () => {
    for await (const event of registry.watch({ service: name, signal: controller.signal }))
      events.push(event);
  })();
  return {
    events,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

/** The error a watch of `name` ends with, whether it throws at once or on the first read. */
async function watchError(registry: Registry, name: string): Promise<unknown> {
  const controller = new AbortController();
  try {
    for await (const _ of registry.watch({ service: name, signal: controller.signal })) break;
  } catch (err) {
    return err;
  } finally {
    controller.abort();
  }
  return undefined;
}

/**
 * Core's Registry conformance suite, plus what a shared registry adds: heartbeats, watchers in other
 * processes, conflicting node ids and the bad input of issue 6.
 */
export function discoverySuite(name: string, options: DiscoverySuiteOptions): void {
  registrySuite(name, options.ttlSlack === undefined ? { create: options.create } : options);
  const slack = options.ttlSlack ?? 500;

  describe(`Discovery registry: ${name}`, () => {
    let a: Registry;
    let b: Registry;
    beforeAll(async () => {
      a = await options.create();
      b = await options.create();
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it('a node registered again at another address while live is refused with invalid_argument', async () => {
      const svc = unique('dup');
      await a.register(service(svc, ['n1']), { ttl: 5000 });
      const moved = service(svc, ['n1']);
      (moved.nodes[0] as { address: string }).address = '127.0.0.1:9999';
      await expect(b.register(moved, { ttl: 5000 })).rejects.toMatchObject({ code: 'invalid_argument' });
      await a.deregister(service(svc, ['n1']));
      await b.register(moved, { ttl: 5000 });
      expect((await a.getService(svc))[0]?.nodes.map((n) => n.address)).toEqual(['127.0.0.1:9999']);
      await b.deregister(moved);
    });

    it('rejects ports outside 1-65535, oversized metadata and duplicate ids with invalid_argument', async () => {
      const svc = unique('bad');
      for (const address of ['127.0.0.1:0', '127.0.0.1:65536', 'http://h:70000/x', '[::1]:-1']) {
        await expect(
          a.register({ ...service(svc, []), nodes: [{ id: 'n', address, metadata: {} }] }),
        ).rejects.toMatchObject({ code: 'invalid_argument' });
      }
      const big = { blob: 'x'.repeat(100_000) };
      const oversized: Service[] = [
        service(svc, ['n'], { metadata: big }),
        { ...service(svc, []), nodes: [{ id: 'n', address: '127.0.0.1:4001', metadata: big }] },
        service(svc, ['n'], { endpoints: [{ name: 'Greeter.Hello', metadata: big }] }),
      ];
      for (const bad of oversized)
        await expect(a.register(bad)).rejects.toMatchObject({ code: 'invalid_argument' });
      await expect(a.register(service(svc, ['n', 'n']))).rejects.toMatchObject({ code: 'invalid_argument' });
      for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
        await expect(a.register(service(svc, ['n']), { ttl })).rejects.toMatchObject({
          code: 'invalid_argument',
        });
      await expect(a.getService(svc)).rejects.toMatchObject({ code: 'not_found' });
    });

    it('rejects bad service names in every call with invalid_argument', async () => {
      const names = ['', ' ', 'a b', 'a/b', 'a*', 'a>', '.a', 'a.', 'a..b', '{a}', 'x'.repeat(129)];
      for (const name of names) {
        const bad = service(name, ['n']);
        await expect(a.register(bad), name).rejects.toMatchObject({ code: 'invalid_argument' });
        await expect(a.deregister(bad), name).rejects.toMatchObject({ code: 'invalid_argument' });
        await expect(a.getService(name), name).rejects.toMatchObject({ code: 'invalid_argument' });
        expect(await watchError(a, name), name).toMatchObject({ code: 'invalid_argument' });
        expect(() => heartbeat(a, bad, { ttl: 3000 }), name).toThrow(
          expect.objectContaining({ code: 'invalid_argument' }),
        );
      }
    });

    it('heartbeat refuses an interval at or above the ttl with invalid_argument', () => {
      expect(() => heartbeat(a, service(unique('hb'), ['n']), { ttl: 1000, interval: 1000 })).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
      expect(() => heartbeat(a, service(unique('hb'), ['n']), { ttl: 1000, interval: 0 })).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
    });

    it('another instance sees create, update and delete in order', async () => {
      const svc = unique('order');
      const watch = collect(b, svc);
      await new Promise((r) => setTimeout(r, 300));
      await a.register(service(svc, ['n1']));
      await a.register(service(svc, ['n1'], { metadata: { v: '2' } }));
      await a.register(service(svc, ['n1'], { metadata: { v: '2' } }));
      await a.deregister(service(svc, ['n1']));
      await until(() => watch.events.some((e) => e.type === 'delete'));
      await new Promise((r) => setTimeout(r, 200));
      await watch.stop();
      expect(watch.events.map((e) => e.type)).toEqual(['create', 'update', 'delete']);
      expect(watch.events[1]?.service.metadata).toEqual({ v: '2' });
    });

    it('every watcher sees a burst of changes to several nodes in the order they were made', async () => {
      const svc = unique('burst');
      const watches = [collect(a, svc), collect(b, svc)];
      await new Promise((r) => setTimeout(r, 300));
      const changes = 40;
      for (let seq = 1; seq <= changes; seq += 1) {
        const node = seq % 2 === 0 ? 'n2' : 'n1';
        await a.register({
          ...service(svc, []),
          nodes: [{ id: node, address: '127.0.0.1:4100', metadata: { seq: String(seq) } }],
        });
      }
      await a.deregister(service(svc, ['n1']));
      await a.register(service(svc, ['n1']));
      await until(() => watches.every((w) => w.events.filter((e) => e.type === 'create').length === 3));
      await new Promise((r) => setTimeout(r, 200));
      for (const w of watches) await w.stop();
      for (const { events } of watches) {
        const seqs = events
          .filter((e) => e.type !== 'delete')
          .map((e) => Number(e.service.nodes[0]?.metadata.seq));
        const written = seqs.slice(0, -1);
        // Every change in the order it was made (a backend may fold a superseded change into the next).
        expect(written).toEqual([...new Set(written)].sort((x, y) => x - y));
        expect(written.at(-1)).toBe(changes);
        expect(events.slice(-2).map((e) => `${e.type} ${e.service.nodes[0]?.id}`)).toEqual([
          'delete n1',
          'create n1',
        ]);
      }
      await a.deregister(service(svc, ['n1', 'n2']));
    });

    it('a heartbeat keeps a node past its ttl; once it stops, every watcher sees it gone within ttl + interval', async () => {
      const svc = unique('hb');
      const ttl = 1500;
      const interval = 500;
      const watchA = collect(a, svc);
      const watchB = collect(b, svc);
      await new Promise((r) => setTimeout(r, 300));
      const beat = heartbeat(a, service(svc, ['n1']), { ttl, interval, deregisterOnStop: false });
      await beat.ready;
      await new Promise((r) => setTimeout(r, ttl * 2));
      expect(beat.beats).toBeGreaterThanOrEqual(3);
      expect((await b.getService(svc))[0]?.nodes.map((n) => n.id)).toEqual(['n1']);
      expect([...watchA.events, ...watchB.events].filter((e) => e.type === 'delete')).toEqual([]);
      const stopped = Date.now();
      await beat.close();
      await until(() => [watchA, watchB].every((w) => w.events.some((e) => e.type === 'delete')), ttl * 3);
      expect(Date.now() - stopped).toBeLessThanOrEqual(ttl + interval + slack);
      await watchA.stop();
      await watchB.stop();
      for (const w of [watchA, watchB]) expect(w.events.map((e) => e.type)).toEqual(['create', 'delete']);
    });

    it('a restarted node re-registers without duplicates', async () => {
      const svc = unique('restart');
      const first = heartbeat(a, service(svc, ['n1', 'n2']), { ttl: 3000 });
      await first.ready;
      await first.close();
      const second = heartbeat(b, service(svc, ['n1']), { ttl: 3000 });
      await second.ready;
      await b.register(service(svc, ['n1']), { ttl: 3000 });
      const found = await a.getService(svc);
      expect(found.flatMap((s) => s.nodes.map((n) => n.id))).toEqual(['n1']);
      await second.close();
      await expect(a.getService(svc)).rejects.toMatchObject({ code: 'not_found' });
    });
  });
}
