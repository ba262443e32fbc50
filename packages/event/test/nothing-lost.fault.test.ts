// Issue 6 "nothing lost" at full size: 100,000 records with unique ids on JetStream, 50,000 on Redis Streams,
// published with many in flight and retried on failure (a timeout) under the same id; 2 consumer processes in
// one group, one SIGKILLed mid-batch every 10 s (at 5 s, 15 s...) and replaced, the (throwaway) server
// restarted once (SIGTERM once half the ids were handled). At the end:
// 0 ids missing, the stream holds each id exactly once, redeliveries > 0, and nothing is left pending.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Events } from '../src/events.js';
import { natsEvents } from '../src/nats.js';
import { redisEvents } from '../src/redis.js';

const ackWait = 2000;
const fixture = fileURLToPath(new URL('./fixtures/consumer.ts', import.meta.url));
const processes = new Set<ChildProcess>();
const dirs: string[] = [];

afterAll(() => {
  for (const child of processes) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const port = (): number => 20000 + Math.floor(Math.random() * 20000);

function startProcess(command: string, args: string[], readyText: string, onLine?: (line: string) => void) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  processes.add(child);
  child.on('exit', () => processes.delete(child));
  return new Promise<ChildProcess>((resolve, reject) => {
    // One buffer per stream: a partial stdout line must not be joined with what stderr says next.
    const reader = (): ((data: Buffer) => void) => {
      let buffer = '';
      return (data) => {
        buffer += data.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          if (line.includes(readyText)) resolve(child);
          onLine?.(line);
        }
      };
    };
    child.stdout?.on('data', reader());
    child.stderr?.on('data', reader());
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before it was ready`)));
  });
}

interface Server {
  name: 'nats' | 'redis';
  /** Records published. */
  count: number;
  url: string;
  start: () => Promise<ChildProcess>;
  create: (namespace: string) => Events;
  /** Records still pending in the group (delivered, not acked). */
  pending: (namespace: string, group: string) => Promise<number>;
}

function natsServer(): Server {
  const p = port();
  const dir = mkdtempSync(join(tmpdir(), 'event-fault-nats-'));
  dirs.push(dir);
  const url = `nats://127.0.0.1:${p}`;
  return {
    name: 'nats',
    count: 100_000,
    url,
    start: () =>
      startProcess('nats-server', ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', dir], 'Server is ready'),
    create: (namespace) => natsEvents({ url, namespace }),
    pending: async (namespace, group) => {
      const nc = await connect({ servers: url });
      const info = await (await jetstreamManager(nc)).consumers.info(namespace, group);
      await nc.close();
      return info.num_ack_pending + info.num_pending;
    },
  };
}

function redisServer(): Server {
  const p = port();
  const dir = mkdtempSync(join(tmpdir(), 'event-fault-redis-'));
  dirs.push(dir);
  const url = `redis://127.0.0.1:${p}`;
  return {
    name: 'redis',
    count: 50_000,
    url,
    start: () =>
      startProcess(
        'redis-server',
        [
          '--port',
          String(p),
          '--bind',
          '127.0.0.1',
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'yes',
          '--appendfsync',
          'always',
        ],
        'Ready to accept connections',
      ),
    create: (namespace) => redisEvents({ url, namespace }),
    pending: async (namespace, group) => {
      const client = new Redis(url);
      const [count] = (await client.xpending(`micro:events:{${namespace}}:stream`, group)) as [number];
      client.disconnect();
      return count;
    },
  };
}

const publishers = 256;
const killEvery = 10_000;

describe.each([natsServer(), redisServer()])('nothing lost on $name', (server) => {
  const N = server.count;
  it(`${N} records, 2 consumer processes, one SIGKILLed mid-batch every 10 s, the server restarted: every id once`, {
    timeout: 200_000,
  }, async () => {
    const t0 = Date.now();
    const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    let serverProcess = await server.start();
    const namespace = `fault_${randomUUID().slice(0, 8)}`;
    const type = 'job.created';
    const group = 'workers';
    const events = server.create(namespace);
    const seen = new Map<string, number>();
    let redeliveries = 0;
    const onLine = (line: string): void => {
      const [id, attempt] = line.split(' ');
      if (id === undefined || attempt === undefined || id === 'ready') return;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      if (Number(attempt) > 1) redeliveries += 1;
    };
    // Armed, the victim is killed the moment it reports a record: the rest of its batch is still in flight.
    let armed = false;
    let killed: () => void = () => undefined;
    const consumer = (victim = false): Promise<ChildProcess> => {
      const started = startProcess(
        process.execPath,
        [
          '--import',
          'tsx',
          '--conditions=@micro-os/source',
          fixture,
          server.name,
          server.url,
          namespace,
          type,
          group,
          String(ackWait),
        ],
        'ready',
        (line) => {
          onLine(line);
          if (victim && armed && line !== 'ready') {
            armed = false;
            void started.then((child) => {
              child.kill('SIGKILL');
              killed();
            });
          }
        },
      );
      return started;
    };
    // The group exists before the first publish; the members start from its beginning.
    const first = await consumer();
    let victim = await consumer(true);

    const ids = Array.from({ length: N }, () => randomUUID());
    let publishRetries = 0;
    let published = 0;
    let next = 0;
    const publishAll = Promise.all(
      Array.from({ length: publishers }, async () => {
        while (next < N) {
          const i = next++;
          const id = ids[i] as string;
          for (;;) {
            try {
              await events.publish({ id, type, data: { i } }, { timeout: 2000 });
              published += 1;
              break;
            } catch {
              publishRetries += 1;
              await sleep(100);
            }
          }
        }
      }),
    ).then(() => console.log(`${server.name}: ${N} published at ${elapsed()}`));

    let finished = false;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      finish = () => {
        finished = true;
        resolve();
      };
    });
    let kills = 0;
    const killer = (async () => {
      for (let round = 1; ; round++) {
        await Promise.race([done, sleep(t0 + round * killEvery - killEvery / 2 - Date.now())]);
        if (finished) return;
        // Armed until the victim reports its next record (or everything is handled).
        await Promise.race([
          done,
          new Promise<void>((resolve) => {
            killed = resolve;
            armed = true;
          }),
        ]);
        if (finished) return;
        kills += 1;
        console.log(`${server.name}: member killed at ${elapsed()}, ${seen.size} ids handled`);
        await sleep(300);
        victim = await consumer(true);
      }
    })();

    const waitSeen = async (count: number, ms: number): Promise<void> => {
      const end = Date.now() + ms;
      while (seen.size < count) {
        if (Date.now() > end) throw new Error(`only ${seen.size} of ${count} ids handled within ${ms} ms`);
        await sleep(20);
      }
    };

    try {
      // Mid-consume, usually mid-publish too (publishes in flight time out and are retried under the same id).
      // (The "lost" ids once seen here, stored and nothing pending, were records the killed member had handled
      // and acked while its report lines still sat in its stdout queue: the member now acks after the line is out.)
      await waitSeen(N / 2, 120_000);
      serverProcess.kill('SIGTERM');
      await new Promise((r) => serverProcess.once('exit', r));
      console.log(
        `${server.name}: server stopped at ${elapsed()}, ${published} published, ${seen.size} handled`,
      );
      await sleep(500);
      serverProcess = await server.start();

      await publishAll;
      await waitSeen(N, Number(process.env.WAIT ?? 150_000)).catch(async (err: unknown) => {
        // Say whether the ids never handled were stored at all, and what the group still holds.
        const stored = new Set<string>();
        for await (const record of events.replay(type)) stored.add(record.id);
        const missing = ids.filter((id) => !seen.has(id));
        throw new Error(
          `${(err as Error).message}: ${missing.filter((id) => stored.has(id)).length} of the ${missing.length} missing are stored, ${stored.size} stored in all, ${await server.pending(namespace, group)} pending in the group`,
        );
      });
    } finally {
      finish();
      await killer;
    }
    console.log(`${server.name}: all ${N} ids handled at ${elapsed()}`);
    const missing = ids.filter((id) => !seen.has(id));
    expect(missing).toEqual([]);

    // Everything acked: the pending list drains (the killed member's records were reclaimed).
    const end = Date.now() + 20_000;
    let pending = await server.pending(namespace, group);
    while (pending > 0 && Date.now() < end) {
      await sleep(250);
      pending = await server.pending(namespace, group);
    }
    expect(pending).toBe(0);

    const stored = new Map<string, number>();
    for await (const record of events.replay(type)) stored.set(record.id, (stored.get(record.id) ?? 0) + 1);
    expect(stored.size).toBe(N);
    expect([...stored.values()].every((count) => count === 1)).toBe(true);
    expect(kills).toBeGreaterThan(0);
    expect(redeliveries).toBeGreaterThan(0);
    const duplicates = [...seen.values()].filter((c) => c > 1).length;
    console.log(
      `${server.name}: ${N} ids, 0 missing, ${kills} kills, ${redeliveries} redeliveries, ${duplicates} ids handled twice or more, ${publishRetries} publish retries, ${elapsed()}`,
    );

    for (const child of [first, victim]) child.kill('SIGKILL');
    await events.close();
    serverProcess.kill('SIGKILL');
  });
});
