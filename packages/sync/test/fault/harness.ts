import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { testServers } from '@micro-os/core/testing';
import pg from 'pg';
import type { BackendSpec } from './backends.js';

export type Message = { pid: number; event: string } & Record<string, unknown>;

const here = dirname(fileURLToPath(import.meta.url));

/** A worker process: send commands, await its next message of a kind. */
export interface Worker {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Every message received, in order (next() does not remove from it). */
  readonly log: Message[];
  send(command: Record<string, unknown>): void;
  next(event: string, ms?: number): Promise<Message>;
  kill(): Promise<void>;
}

/** Worker processes starting at once: more only slow each other down on a small machine. */
const startingAtOnce = 3;
let starting = 0;
const startQueue: (() => void)[] = [];

export async function startWorker(backend: BackendSpec, resource: string): Promise<Worker> {
  if (starting >= startingAtOnce) await new Promise<void>((resolve) => startQueue.push(resolve));
  starting += 1;
  try {
    return await spawnWorker(backend, resource);
  } finally {
    starting -= 1;
    startQueue.shift()?.();
  }
}

async function spawnWorker(backend: BackendSpec, resource: string): Promise<Worker> {
  const config = JSON.stringify({ backend, database: testServers.postgres, resource });
  const child = spawn(
    process.execPath,
    ['--conditions=@micro-os/source', '--import', 'tsx', join(here, 'worker.ts'), config],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const inbox: Message[] = [];
  const log: Message[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      const message = JSON.parse(line) as Message;
      inbox.push(message);
      log.push(message);
    } catch {
      return;
    }
    for (const wake of waiters.splice(0)) wake();
  });
  const next = async (event: string, ms = 30_000): Promise<Message> => {
    const end = Date.now() + ms;
    for (;;) {
      const index = inbox.findIndex((m) => m.event === event || m.event === 'error');
      if (index >= 0) {
        const [message] = inbox.splice(index, 1) as [Message];
        if (message.event === 'error')
          throw new Error(`worker ${child.pid}: ${JSON.stringify(message.error)}`);
        return message;
      }
      if (Date.now() > end) throw new Error(`worker ${child.pid}: no ${event} within ${ms} ms`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  const worker: Worker = {
    pid: child.pid as number,
    child,
    log,
    send: (command) => child.stdin?.write(`${JSON.stringify(command)}\n`),
    next,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
  await next('ready');
  return worker;
}

/** The protected resource: one row per id, written only by `UPDATE ... WHERE token < $new`. */
export async function createResource(pool: pg.Pool, rows: number): Promise<string> {
  const table = `sync_fault_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, token bigint NOT NULL, writer text)`);
  for (let id = 1; id <= rows; id++) await pool.query(`INSERT INTO ${table} VALUES ($1, 0, NULL)`, [id]);
  return table;
}

export const newPool = (): pg.Pool => new pg.Pool({ connectionString: testServers.postgres, max: 4 });

export const specs = (suffix: string): Record<'redis' | 'postgres' | 'nats', BackendSpec> => ({
  redis: { kind: 'redis', urls: [testServers.redis], prefix: `fault:${suffix}:` },
  postgres: { kind: 'postgres', url: testServers.postgres, table: `sync_fault_locks_${suffix}` },
  nats: { kind: 'nats', servers: testServers.nats, bucket: `sync_fault_${suffix}` },
});

/** Runs `task(0)` to `task(count - 1)`, at most `limit` at a time (independent trials side by side). */
export async function inParallel<T>(
  count: number,
  limit: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return results;
}
