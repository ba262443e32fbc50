// Issue 6, scaled to ~20 s per backend: 3 node processes with ttl 3 s and 1 s heartbeats; no live node is
// ever evicted (about 45 renewals over the run); a SIGSTOPped node is gone for the watcher within ttl + 1 s
// and back within 2 s of SIGCONT; a SIGKILLed node is gone within ttl + 1 s and its restart does not
// duplicate it.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Registry, RegistryEvent } from '@micro-os/core';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { natsRegistry } from '../src/nats.js';
import { postgresRegistry } from '../src/postgres.js';
import { redisRegistry } from '../src/redis.js';

const ttl = 3000;
const interval = 1000;
const fixture = fileURLToPath(new URL('./fixtures/heartbeat-node.ts', import.meta.url));
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

function startNode(args: string[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@micro-os/source', fixture, ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (data: Buffer) => {
      if (data.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`node process exited with ${code} before registering`)));
  });
}

const until = async (check: () => boolean, ms: number): Promise<number> => {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
};

interface Backend {
  name: 'redis' | 'nats' | 'postgres';
  url: string;
  store: string;
  create: () => Registry;
  cleanup: () => Promise<void>;
}

const id = randomUUID().slice(0, 8);
const backends: Backend[] = [
  {
    name: 'redis',
    url: testServers.redis,
    store: `test:hb:${id}`,
    create: () => redisRegistry({ url: testServers.redis, prefix: `test:hb:${id}` }),
    cleanup: async () => {
      const client = new Redis(testServers.redis);
      const keys = await client.keys(`test:hb:${id}:*`);
      if (keys.length > 0) await client.del(...keys);
      client.disconnect();
    },
  },
  {
    name: 'nats',
    url: testServers.nats,
    store: `test_hb_${id}`,
    create: () => natsRegistry({ url: testServers.nats, bucket: `test_hb_${id}` }),
    cleanup: async () => {
      const nc = await connect({ servers: testServers.nats });
      await (await new Kvm(nc).open(`test_hb_${id}`)).destroy();
      await nc.close();
    },
  },
  {
    name: 'postgres',
    url: testServers.postgres,
    store: `test_hb_${id}`,
    create: () => postgresRegistry({ url: testServers.postgres, table: `test_hb_${id}` }),
    cleanup: async () => {
      const client = new pg.Client({ connectionString: testServers.postgres });
      await client.connect();
      await client.query(`DROP TABLE IF EXISTS test_hb_${id}`);
      await client.end();
    },
  },
];

describe.each(backends)('heartbeats on $name', (backend) => {
  it('3 nodes, ttl 3 s, 1 s heartbeats: no live node evicted; stopped and killed nodes leave within ttl + 1 s', async () => {
    await requireServer(backend.name);
    const watcher = backend.create();
    const svc = `hb-${randomUUID().slice(0, 8)}`;
    const events: (RegistryEvent & { at: number })[] = [];
    const controller = new AbortController();
    const watching = (async () => {
      for await (const event of watcher.watch({ service: svc, signal: controller.signal }))
        events.push({ ...event, at: Date.now() });
    })();
    await new Promise((r) => setTimeout(r, 300));
    const args = (node: string): string[] => [
      backend.name,
      backend.url,
      backend.store,
      svc,
      node,
      String(ttl),
      String(interval),
    ];
    const nodes = await Promise.all(['n0', 'n1', 'n2'].map((n) => startNode(args(n))));
    const deletes = (node: string): number =>
      events.filter((e) => e.type === 'delete' && e.service.nodes[0]?.id === node).length;
    const creates = (node: string): number =>
      events.filter((e) => e.type === 'create' && e.service.nodes[0]?.id === node).length;
    await until(() => ['n0', 'n1', 'n2'].every((n) => creates(n) === 1), 5000);

    // Live nodes renewing for two ttls: nobody is evicted.
    await new Promise((r) => setTimeout(r, 2 * ttl));
    expect(['n0', 'n1', 'n2'].map(deletes)).toEqual([0, 0, 0]);

    // SIGSTOP: gone within ttl + 1 s, back within 2 s of SIGCONT.
    nodes[0]?.kill('SIGSTOP');
    const stoppedIn = await until(() => deletes('n0') === 1, ttl + 3000);
    expect(stoppedIn).toBeLessThanOrEqual(ttl + 1000);
    nodes[0]?.kill('SIGCONT');
    const backIn = await until(() => creates('n0') === 2, 4000);
    expect(backIn).toBeLessThanOrEqual(2000);

    // SIGKILL: gone within ttl + 1 s; a restarted process with the same id is one node again.
    nodes[1]?.kill('SIGKILL');
    const killedIn = await until(() => deletes('n1') === 1, ttl + 3000);
    expect(killedIn).toBeLessThanOrEqual(ttl + 1000);
    const restarted = await startNode(args('n1'));
    await until(() => creates('n1') === 2, 4000);
    const found = await watcher.getService(svc);
    expect(found.flatMap((s) => s.nodes.map((n) => n.id)).sort()).toEqual(['n0', 'n1', 'n2']);
    // The nodes that were never stopped were never evicted.
    expect(deletes('n2')).toBe(0);

    for (const child of [...nodes, restarted]) child.kill('SIGKILL');
    controller.abort();
    await watching;
    await watcher.close();
    await backend.cleanup();
    console.log(
      `${backend.name}: SIGSTOP seen after ${stoppedIn} ms, back ${backIn} ms after SIGCONT, SIGKILL seen after ${killedIn} ms`,
    );
  });
});
