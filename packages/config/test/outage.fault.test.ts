// Config sources across outages (about 20 s in all): a throwaway redis-server and nats-server on random
// loopback ports are killed and restarted under a running watch (3 Redis restarts, 2 NATS restarts), and every
// Postgres connection of a source is terminated 100 times. After each, the next change in the store must reach
// the watcher within 2 s of the server being back, and the process stays up.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConfig, type Value } from '@micro-os/config';
import { natsSource } from '@micro-os/config/nats';
import { postgresSource } from '@micro-os/config/postgres';
import { redisSource } from '@micro-os/config/redis';
import type { MicroError } from '@micro-os/core';
import { randomPort, requireServer, testServers, waitForPort } from '@micro-os/core/testing';
import { Kvm } from '@nats-io/kv';
import { connect as natsConnect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await pause(10);
  }
}

function collect(watch: AsyncIterable<Value>): unknown[] {
  const seen: unknown[] = [];
  void (async () => {
    for await (const value of watch) seen.push(value.raw());
  })();
  return seen;
}

async function start(command: string, args: string[], port: number): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: 'ignore' });
  child.once('error', () => {});
  await waitForPort(port, 5000);
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('config sources across outages', () => {
  it('a Redis watch survives server restarts: keyspace flags come back and changes arrive within 2 s', async () => {
    const port = randomPort();
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    let server = await start('redis-server', args, port);
    const url = `redis://127.0.0.1:${port}`;
    const writer = new Redis(url, { maxRetriesPerRequest: null });
    writer.on('error', () => {});
    const errors: MicroError[] = [];
    const config = createConfig({
      sources: [redisSource({ url, key: 'cfg' })],
      onError: (e) => errors.push(e),
    });
    try {
      await writer.set('cfg', JSON.stringify({ n: 0 }));
      await config.load();
      const seen = collect(config.watch('n'));
      await pause(100);
      await writer.set('cfg', JSON.stringify({ n: 1 }));
      await until(() => seen.at(-1) === 1, 1000, 'first change');
      for (let round = 2; round <= 4; round++) {
        await kill(server);
        await pause(500);
        server = await start('redis-server', args, port);
        const back = Date.now();
        await writer.set('cfg', JSON.stringify({ n: round }));
        await until(() => seen.at(-1) === round, 2000, `change after restart ${round - 1}`);
        expect(Date.now() - back).toBeLessThan(2000);
      }
      expect(errors.every((e) => e.code === 'unavailable')).toBe(true);
    } finally {
      await config.close();
      writer.disconnect();
      await kill(server);
    }
  });

  it('a NATS KV watch survives server restarts and changes arrive within 2 s', async () => {
    const port = randomPort();
    const dir = await mkdtemp(join(tmpdir(), 'micro-config-nats-'));
    const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir];
    let server = await start('nats-server', args, port);
    const servers = `nats://127.0.0.1:${port}`;
    const writerConnection = await natsConnect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    let reconnects = 0;
    void (async () => {
      for await (const status of writerConnection.status()) if (status.type === 'reconnect') reconnects += 1;
    })();
    const errors: MicroError[] = [];
    const config = createConfig({
      sources: [natsSource({ servers, bucket: 'cfg', key: 'app' })],
      onError: (e) => errors.push(e),
    });
    try {
      const kv = await new Kvm(writerConnection).create('cfg', { timeout: 300 });
      await kv.put('app', JSON.stringify({ n: 0 }));
      await config.load();
      const seen = collect(config.watch('n'));
      await pause(100);
      await kv.put('app', JSON.stringify({ n: 1 }));
      await until(() => seen.at(-1) === 1, 1000, 'first change');
      for (let round = 2; round <= 3; round++) {
        await kill(server);
        await pause(500);
        server = await start('nats-server', args, port);
        const back = Date.now();
        // a put sent while the writer is still disconnected waits out the 5 s JetStream timeout
        await until(() => reconnects === round - 1, 3000, 'writer reconnected');
        for (;;) {
          try {
            await kv.put('app', JSON.stringify({ n: round }));
            break;
          } catch (err) {
            await pause(50);
            if (Date.now() - back > 5000) throw new Error(`writer cannot put after restart: ${String(err)}`);
          }
        }
        await until(() => seen.at(-1) === round, 2000, `change after restart ${round - 1}`);
        expect(Date.now() - back).toBeLessThan(2500);
      }
    } finally {
      await config.close();
      await writerConnection.close();
      await kill(server);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('terminating every Postgres connection of a source 100 times: the process stays up, changes still arrive', async () => {
    await requireServer('postgres');
    const app = `cfgfault_${randomUUID().slice(0, 8)}`;
    const table = `micro_config_fault_${randomUUID().slice(0, 8)}`;
    const url = `${testServers.postgres}?application_name=${app}`;
    const admin = new pg.Pool({ connectionString: testServers.postgres, max: 2 });
    const errors: MicroError[] = [];
    const config = createConfig({
      sources: [postgresSource({ url, table, name: 'app' })],
      onError: (e) => errors.push(e),
    });
    const write = (n: number): Promise<unknown> =>
      admin.query(
        `INSERT INTO "${table}" (name, value) VALUES ('app', $1) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
        [JSON.stringify({ n })],
      );
    try {
      await config.load();
      const seen = collect(config.watch('n'));
      await pause(200);
      await write(0);
      await until(() => seen.at(-1) === 0, 1000, 'first change');
      for (let round = 1; round <= 100; round++) {
        const killed = await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
          [app],
        );
        expect(killed.rowCount).toBeGreaterThan(0);
        const started = Date.now();
        await write(round);
        await until(() => seen.at(-1) === round, 2000, `change after termination ${round}`);
        expect(Date.now() - started).toBeLessThan(2000);
      }
      expect(config.get('n').number()).toBe(100);
    } finally {
      await config.close();
      await admin.query(`DROP TABLE IF EXISTS "${table}"; DROP FUNCTION IF EXISTS "${table}_notify"()`);
      await admin.end();
    }
  });
});
