// Issue 6 at full size, the three backends at once (~6 min): on each backend, 3 node processes with ttl 3 s
// and 1 s heartbeats renew until together they have sent 1,000 heartbeats (counted from what they report),
// while three watchers (two in this process on their own connections, one in a process of its own) see no
// node leave. Then a SIGSTOPped node is gone for every watcher within ttl + 1 s and back within 2 s of
// SIGCONT, and a SIGKILLed node is gone within ttl + 1 s and its restart does not duplicate it.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Registry, RegistryEvent } from '@micro-os/core';
import { requireServer, testServers } from '@micro-os/core/testing';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, it } from 'vitest';
import { natsRegistry } from '../src/nats.js';
import { postgresRegistry } from '../src/postgres.js';
import { redisRegistry } from '../src/redis.js';

const ttl = 3000;
const interval = 1000;
const heartbeats = 1000;
const nodeIds = ['n0', 'n1', 'n2'];
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const children = new Set<ChildProcess>();

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

interface Fixture {
  child: ChildProcess;
  /** Resolves once the process prints `ready`. */
  ready: Promise<void>;
}

/** A fixture process; `onLine` sees every line it prints except `ready`. */
function spawnFixture(file: string, args: string[], onLine: (line: string) => void): Fixture {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@micro-os/source', fixture(file), ...args],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line === 'ready') resolve();
      else onLine(line);
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`${file} exited with ${code ?? signal} before ready`)),
    );
  });
  return { child, ready };
}

const until = async (check: () => boolean, ms: number, what: string): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

interface Seen {
  type: RegistryEvent['type'];
  node: string | undefined;
  at: number;
}

/** One watcher's view: what it saw, in order, with the time it saw it. */
interface Watcher {
  name: string;
  seen: Seen[];
  /** Set when the watch failed or its process died: the test fails with it. */
  failure?: unknown;
}

const count = (w: Watcher, type: Seen['type'], node: string): number =>
  w.seen.filter((s) => s.type === type && s.node === node).length;
/** When the watcher saw the `nth` (1-based) event of that type for that node. */
const timeOf = (w: Watcher, type: Seen['type'], node: string, nth: number): number =>
  (w.seen.filter((s) => s.type === type && s.node === node)[nth - 1] as Seen).at;

function watchHere(name: string, registry: Registry, service: string, signal: AbortSignal): Watcher {
  const watcher: Watcher = { name, seen: [] };
  void (async () => {
    for await (const event of registry.watch({ service, signal }))
      watcher.seen.push({ type: event.type, node: event.service.nodes[0]?.id, at: Date.now() });
    if (!signal.aborted) watcher.failure = new Error(`${name}: watch ended`);
  })().catch((err: unknown) => {
    watcher.failure = err;
  });
  return watcher;
}

function watchElsewhere(name: string, args: string[]): Fixture & { watcher: Watcher } {
  const watcher: Watcher = { name, seen: [] };
  const fixtureProcess = spawnFixture('watcher.ts', args, (line) => {
    watcher.seen.push(JSON.parse(line) as Seen);
  });
  fixtureProcess.child.once('exit', (code, signal) => {
    watcher.failure ??= new Error(`${name}: watcher process exited with ${code ?? signal}`);
  });
  return { ...fixtureProcess, watcher };
}

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

// The three backends run side by side, so the file takes one run's time (~6 min), not three.
describe.concurrent('heartbeats, 3 nodes with ttl 3 s and 1 s heartbeats', () => {
  it.for(backends)(
    '$name: no live node evicted over 1,000 heartbeats; stopped and killed nodes leave within ttl + 1 s',
    { timeout: 420_000 },
    async (backend, { expect }) => {
      await requireServer(backend.name);
      const started = Date.now();
      const svc = `hb-${randomUUID().slice(0, 8)}`;
      const controller = new AbortController();
      const registries = [backend.create(), backend.create()];
      const [first, second] = registries as [Registry, Registry];
      const beats = new Map<string, number>(nodeIds.map((n) => [n, 0]));
      // A node process loads at once but registers only when told `go`.
      const startNode = (node: string): Fixture =>
        spawnFixture(
          'heartbeat-node.ts',
          [backend.name, backend.url, backend.store, svc, node, String(ttl), String(interval)],
          (line) => {
            if (line === 'beat') beats.set(node, (beats.get(node) ?? 0) + 1);
          },
        );
      // The processes start side by side: the nodes load while the watchers get ready.
      const elsewhere = watchElsewhere('watcher process', [backend.name, backend.url, backend.store, svc]);
      const nodes = nodeIds.map(startNode);
      await elsewhere.ready;
      const watchers = [
        watchHere('watcher 1', first, svc, controller.signal),
        watchHere('watcher 2', second, svc, controller.signal),
        elsewhere.watcher,
      ];
      const everyWatcher = async (
        check: (w: Watcher) => boolean,
        ms: number,
        what: string,
      ): Promise<void> => {
        await until(
          () => {
            for (const w of watchers) if (w.failure !== undefined) throw w.failure;
            return watchers.every(check);
          },
          ms,
          what,
        );
      };

      // Every watcher is live before the nodes start: each sees a probe node come and go.
      for (let attempt = 0; ; attempt += 1) {
        const probe = {
          name: svc,
          version: '1.0.0',
          metadata: {},
          endpoints: [],
          nodes: [{ id: `probe${attempt}`, address: '127.0.0.1:4999', metadata: {} }],
        };
        await first.register(probe, { ttl: 60_000 });
        const live = await everyWatcher(
          (w) => count(w, 'create', `probe${attempt}`) > 0,
          2000,
          'probe seen',
        ).then(
          () => true,
          (err: unknown) => {
            if (attempt >= 10) throw err;
            return false;
          },
        );
        await first.deregister(probe);
        if (!live) continue;
        await everyWatcher((w) => count(w, 'delete', `probe${attempt}`) > 0, 5000, 'probe gone');
        break;
      }
      for (const w of watchers) w.seen = w.seen.filter((s) => s.node?.startsWith('probe') !== true);

      const nodesFrom = Date.now();
      for (const node of nodes) node.child.stdin?.write('go\n');
      await Promise.all(nodes.map((node) => node.ready));
      const [n0, n1] = nodes.map((node) => node.child) as [ChildProcess, ChildProcess, ChildProcess];
      // The process that restarts n1 after its SIGKILL loads now, so the restart does not wait for it.
      const restarted = startNode('n1');
      restarted.ready.catch(() => undefined); // awaited after the kill; a failure then fails the test
      await everyWatcher((w) => nodeIds.every((n) => count(w, 'create', n) === 1), 10_000, 'nodes seen');

      // 1,000 heartbeats from live nodes, and not one of them seen leaving by any watcher.
      const sent = (): number => [...beats.values()].reduce((a, b) => a + b, 0);
      const evictions = (): string[] =>
        watchers.flatMap((w) =>
          w.seen
            .filter((s) => s.type !== 'create' && nodeIds.includes(s.node ?? ''))
            .map((s) => `${w.name}: ${s.type} ${s.node}`),
        );
      await until(
        () => {
          for (const w of watchers) if (w.failure !== undefined) throw w.failure;
          if (evictions().length > 0) throw new Error(`live node evicted: ${evictions().join(', ')}`);
          return sent() >= heartbeats;
        },
        (heartbeats / nodeIds.length) * interval * 1.15,
        `${heartbeats} heartbeats`,
      );
      const liveFor = Date.now() - nodesFrom;
      const sentLive = sent();
      expect(sent()).toBeGreaterThanOrEqual(heartbeats);
      expect(evictions()).toEqual([]);
      for (const registry of registries) {
        const found = await registry.getService(svc);
        expect(found.flatMap((s) => s.nodes.map((n) => n.id)).sort()).toEqual(nodeIds);
      }

      // SIGSTOP: gone for every watcher within ttl + 1 s, back for every watcher within 2 s of SIGCONT.
      const stoppedAt = Date.now();
      n0.kill('SIGSTOP');
      await everyWatcher((w) => count(w, 'delete', 'n0') === 1, ttl + 5000, 'stopped node gone');
      const stoppedGone = Math.max(...watchers.map((w) => timeOf(w, 'delete', 'n0', 1) - stoppedAt));
      const resumedAt = Date.now();
      n0.kill('SIGCONT');
      await everyWatcher((w) => count(w, 'create', 'n0') === 2, 5000, 'resumed node back');
      const resumedBack = Math.max(...watchers.map((w) => timeOf(w, 'create', 'n0', 2) - resumedAt));

      // SIGKILL: gone for every watcher within ttl + 1 s; the restarted process is the same node again.
      const killedAt = Date.now();
      n1.kill('SIGKILL');
      await everyWatcher((w) => count(w, 'delete', 'n1') === 1, ttl + 5000, 'killed node gone');
      const killedGone = Math.max(...watchers.map((w) => timeOf(w, 'delete', 'n1', 1) - killedAt));
      restarted.child.stdin?.write('go\n');
      await restarted.ready;
      await everyWatcher((w) => count(w, 'create', 'n1') === 2, 10_000, 'restarted node back');
      for (const registry of registries) {
        const found = await registry.getService(svc);
        expect(found.flatMap((s) => s.nodes.map((n) => n.id)).sort()).toEqual(nodeIds);
      }

      expect(stoppedGone).toBeLessThanOrEqual(ttl + 1000);
      expect(resumedBack).toBeLessThanOrEqual(2000);
      expect(killedGone).toBeLessThanOrEqual(ttl + 1000);
      // Every watcher saw exactly this, per node, in this order: the node never faulted never left.
      for (const w of watchers) {
        for (const [node, expected] of [
          ['n0', ['create', 'delete', 'create']],
          ['n1', ['create', 'delete', 'create']],
          ['n2', ['create']],
        ] as const) {
          expect({
            watcher: w.name,
            node,
            types: w.seen.filter((s) => s.node === node).map((s) => s.type),
          }).toEqual({ watcher: w.name, node, types: expected });
        }
      }

      for (const { child } of [...nodes, restarted, elsewhere]) child.kill('SIGKILL');
      controller.abort();
      for (const registry of registries) await registry.close();
      await backend.cleanup();
      console.log(
        `${backend.name}: nodes registering after ${((nodesFrom - started) / 1000).toFixed(1)} s, ${sentLive} heartbeats over ${(liveFor / 1000).toFixed(0)} s with 0 evictions; ` +
          `SIGSTOP seen by every watcher after ${stoppedGone} ms, back ${resumedBack} ms after SIGCONT, ` +
          `SIGKILL seen after ${killedGone} ms`,
      );
    },
  );
});
