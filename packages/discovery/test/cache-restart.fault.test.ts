// The cache across a backend outage, the three backends at once (~10 s): a redis-server and a nats-server of
// this file's own are killed and started again, and Postgres is cut off behind a proxy, while a cached
// registry serves lookups. Every lookup during the outage answers within 1 s with the last known node flagged
// stale; once the backend is back the heartbeat re-registers, lookups are fresh again, and the cache's watch
// is live again (a node added afterwards shows up without waiting for the cache's maxAge).
import { randomUUID } from 'node:crypto';
import type { Registry, Service } from '@micro-os/core';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, describe, it } from 'vitest';
import { cachedRegistry } from '../src/cached-registry.js';
import { heartbeat } from '../src/heartbeat.js';
import { natsRegistry } from '../src/nats.js';
import { postgresRegistry } from '../src/postgres.js';
import { redisRegistry } from '../src/redis.js';
import { type Outage, ownNats, ownRedis, proxyTo } from './fixtures/outage.js';

const outageMs = 4000;
const table = `test_cache_${randomUUID().slice(0, 8)}`;
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup().catch(() => undefined);
});

interface Backend {
  name: string;
  outage: () => Outage;
  create: (url: string) => Registry;
}

const backends: Backend[] = [
  { name: 'redis', outage: ownRedis, create: (url) => redisRegistry({ url }) },
  { name: 'nats', outage: ownNats, create: (url) => natsRegistry({ url }) },
  {
    name: 'postgres',
    outage: () => proxyTo(testServers.postgres),
    create: (url) => postgresRegistry({ url, table }),
  },
];

const service = (ids: string[]): Service => ({
  name: 'greeter',
  version: '1.0.0',
  metadata: {},
  endpoints: [],
  nodes: ids.map((id, i) => ({ id, address: `127.0.0.1:${4100 + i}`, metadata: {} })),
});

describe.concurrent('cachedRegistry across a backend outage', () => {
  it.for(backends)(
    '$name: serves stale-flagged nodes while the backend is down, fresh ones and live invalidation after',
    { timeout: 60_000 },
    async (backend, { expect }) => {
      if (backend.name === 'postgres') {
        await requireServer('postgres');
        cleanups.push(async () => {
          const client = new pg.Client({ connectionString: testServers.postgres });
          await client.connect();
          await client.query(`DROP TABLE IF EXISTS ${table}`);
          await client.end();
        });
      }
      const outage = backend.outage();
      cleanups.push(() => outage.close());
      await outage.up();
      const writer = backend.create(outage.url);
      const reader = backend.create(outage.url);
      let reads = 0;
      const cached = cachedRegistry(
        {
          ...reader,
          getService: (name, options) => {
            reads += 1;
            return reader.getService(name, options);
          },
        },
        { timeout: 300 },
      );
      const beat = heartbeat(writer, service(['a']), { ttl: 3000, interval: 1000 });
      await beat.ready;
      expect((await cached.getService('greeter'))[0]?.metadata['registry.stale']).toBeUndefined();

      await outage.down();
      let lookups = 0;
      let staleAnswers = 0;
      const downUntil = Date.now() + outageMs;
      while (Date.now() < downUntil) {
        const started = Date.now();
        const [found] = await cached.getService('greeter');
        expect(Date.now() - started).toBeLessThan(1000);
        expect(found?.nodes.map((n) => n.id)).toEqual(['a']);
        lookups += 1;
        if (found?.metadata['registry.stale'] === 'true') staleAnswers += 1;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(staleAnswers).toBeGreaterThan(0);
      expect(cached.cacheInfo('greeter')?.stale).toBe(true);

      const restartedAt = Date.now();
      await outage.up();
      const fresh = async (ids: string[]): Promise<boolean> => {
        const [found] = await cached.getService('greeter').catch(() => []);
        return (
          found !== undefined &&
          found.metadata['registry.stale'] === undefined &&
          found.nodes.map((n) => n.id).join() === ids.join()
        );
      };
      const within = async (ids: string[], ms: number): Promise<number> => {
        const start = Date.now();
        while (!(await fresh(ids))) {
          if (Date.now() - start > ms)
            throw new Error(`${backend.name}: no fresh lookup of ${ids} within ${ms} ms`);
          await new Promise((r) => setTimeout(r, 50));
        }
        return Date.now() - start;
      };
      await within(['a'], 10_000);
      const freshAfter = Date.now() - restartedAt;
      expect(cached.cacheInfo('greeter')?.stale).toBe(false);

      // The cache follows the backend again: a node added now is in the next lookups, through a watch event.
      // First the entry is served from memory again (no backend lookups: the watch is up and the entry valid),
      // so only a watch event can make the cache ask again.
      for (let before = -1; before !== reads; ) {
        before = reads;
        await cached.getService('greeter');
        await new Promise((r) => setTimeout(r, 100));
        await cached.getService('greeter');
      }
      const other = backend.create(outage.url);
      await other.register(service(['b']), { ttl: 10_000 });
      const invalidatedIn = await within(['a', 'b'], 3000);

      await beat.close();
      for (const registry of [other, cached, reader, writer]) await registry.close();
      console.log(
        `${backend.name}: ${staleAnswers}/${lookups} lookups stale during a ${outageMs} ms outage, fresh ${freshAfter} ms after the restart, ` +
          `a new node seen ${invalidatedIn} ms after it registered`,
      );
    },
  );
});
