import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryKV } from '../src/index.js';
import { type Backend, connect, increment } from './fixtures/backends.js';

/**
 * Compare-and-set under contention: a second process runs `perProcess` read-increment-CAS loops in a row
 * while this one runs as many split over 50 concurrent tasks, all on one counter. The total must be exact.
 */
const perProcess = 5000;
const tasks = 50;
const worker = fileURLToPath(new URL('./fixtures/cas-worker.ts', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));

function runWorker(args: string[]): Promise<{ conflicts: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@micro-os/source', '--import', 'tsx', worker, ...args],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as { conflicts: number });
      else reject(new Error(`cas worker exited with ${code}: ${err}`));
    });
  });
}

const targets: Record<Backend, string> = {
  redis: testServers.redis,
  memcached: testServers.memcached,
  postgres: testServers.postgres,
};

describe('compare-and-set under contention', () => {
  const tables: string[] = [];
  afterAll(async () => {
    if (tables.length === 0) return;
    const pool = new pg.Pool({ connectionString: testServers.postgres });
    for (const table of tables) await pool.query(`DROP TABLE IF EXISTS "${table}"`);
    await pool.end();
  });

  it(`memory: ${tasks} concurrent tasks x ${perProcess / tasks} increments lose no update`, async () => {
    const kv = memoryKV();
    await kv.put('counter', 0);
    await Promise.all(Array.from({ length: tasks }, () => increment(kv, 'counter', perProcess / tasks)));
    expect(await kv.get('counter')).toBe(perProcess);
  });

  for (const backend of ['redis', 'memcached', 'postgres'] as const) {
    it(`${backend}: 2 processes x ${perProcess} read-increment-CAS loops (${tasks} tasks in one) lose no update`, async () => {
      await requireServer(backend);
      const scope =
        backend === 'postgres'
          ? `fault_kv_${randomUUID().slice(0, 8)}`
          : `fault-${randomUUID().slice(0, 8)}:`;
      if (backend === 'postgres') tables.push(scope);
      const kv = connect(backend, targets[backend], scope);
      try {
        await kv.put('counter', 0);
        const other = runWorker([backend, targets[backend], scope, 'counter', String(perProcess)]);
        const here = Promise.all(
          Array.from({ length: tasks }, () => increment(kv, 'counter', perProcess / tasks)),
        );
        const [{ conflicts }, local] = await Promise.all([other, here]);
        const entry = await kv.getEntry<number>('counter');
        expect(entry?.value).toBe(2 * perProcess);
        console.log(
          `${backend}: counter ${entry?.value}, conflicts ${conflicts} (other process) + ${local.reduce((a, b) => a + b, 0)} (here)`,
        );
        const stale = await kv
          .put('counter', -1, { ifVersion: (entry?.version ?? 0) - 1 })
          .catch((e: unknown) => e);
        expect(stale).toMatchObject({ code: 'aborted' });
        expect(await kv.getEntry('counter')).toEqual(entry);
        await kv.del('counter');
      } finally {
        await kv.close();
      }
    });
  }
});
