// Issue 6 "nothing lost", scaled down to run in about 30 s per backend on a 2-core machine:
// N = 10,000 records with unique ids (the issue: 100,000 on JetStream, 50,000 on Redis), published at about
// 500/s with retries on failure under the same id; 2 consumer processes in one group; one SIGKILLed mid-batch
// twice (at 20% and 60%) and replaced, the (throwaway) server restarted once (SIGTERM at 40%). At the end: 0 ids missing, the stream holds each id
// exactly once, redeliveries > 0, and nothing is left pending.
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

const N = 10_000;
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
    let buffer = '';
    const onData = (data: Buffer): void => {
      buffer += data.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line.includes(readyText)) resolve(child);
        onLine?.(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before it was ready`)));
  });
}

interface Server {
  name: 'nats' | 'redis';
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

describe.each([natsServer(), redisServer()])('nothing lost on $name', (server) => {
  it(`${N} records, 2 consumer processes, one SIGKILLed mid-batch twice, the server restarted: every id once`, async () => {
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
    const publishAll = (async () => {
      for (let i = 0; i < N; i += 50) {
        await Promise.all(
          ids.slice(i, i + 50).map(async (id) => {
            for (;;) {
              try {
                await events.publish({ id, type, data: { i } }, { timeout: 2000 });
                return;
              } catch {
                publishRetries += 1;
                await sleep(200);
              }
            }
          }),
        );
        await sleep(100);
      }
    })();

    const waitSeen = async (count: number, ms: number): Promise<void> => {
      const end = Date.now() + ms;
      while (seen.size < count) {
        if (Date.now() > end) throw new Error(`only ${seen.size} of ${count} ids handled within ${ms} ms`);
        await sleep(20);
      }
    };

    const killVictim = async (): Promise<void> => {
      await new Promise<void>((resolve) => {
        killed = resolve;
        armed = true;
      });
      console.log(`${server.name}: pending right after the kill: ${await server.pending(namespace, group)}`);
      await sleep(300);
      victim = await consumer(true);
    };

    await waitSeen(N * 0.2, 30_000);
    await killVictim();

    await waitSeen(N * 0.4, 30_000);
    serverProcess.kill('SIGTERM');
    await new Promise((r) => serverProcess.once('exit', r));
    await sleep(500);
    serverProcess = await server.start();

    await waitSeen(N * 0.6, 30_000);
    await killVictim();

    await publishAll;
    await waitSeen(N, 90_000);
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
    expect(redeliveries).toBeGreaterThan(0);
    const duplicates = [...seen.values()].filter((c) => c > 1).length;
    console.log(
      `${server.name}: ${N} ids, 0 missing, ${redeliveries} redeliveries, ${duplicates} ids handled twice or more, ${publishRetries} publish retries`,
    );

    for (const child of [first, victim]) child.kill('SIGKILL');
    await events.close();
    serverProcess.kill('SIGKILL');
  });
});
