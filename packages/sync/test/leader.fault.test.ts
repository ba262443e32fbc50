import { randomUUID } from 'node:crypto';
import { requireServer } from '@micro-os/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendSpec } from './fault/backends.js';
import { createResource, type Message, newPool, specs, startWorker, type Worker } from './fault/harness.js';

// Leader election under faults: 3 candidate processes; every round the leader is killed (kill -9) or stopped
// (SIGSTOP for 2 x ttl, then SIGCONT). Scaled down for a 2-core machine: 4 rounds per backend, one every ~2 s,
// ttl 1 s (the full size: a fault every ~20 s over a longer run).
const rounds = 4;
const ttl = 1000;

const suffix = randomUUID().slice(0, 8);
const pool = newPool();
let resource: string;
const everyone: Worker[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  await Promise.all([requireServer('redis'), requireServer('postgres'), requireServer('nats')]);
  resource = await createResource(pool, 3);
});
afterAll(async () => {
  for (const w of everyone) w.child.kill('SIGCONT');
  await Promise.all(everyone.map((w) => w.kill()));
  await pool.query(
    `DROP TABLE IF EXISTS ${resource}, sync_fault_locks_${suffix}; DROP SEQUENCE IF EXISTS sync_fault_locks_${suffix}_token`,
  );
  await pool.end();
});

async function until<T>(find: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms`);
    await sleep(20);
  }
}

async function run(backend: BackendSpec, row: number): Promise<void> {
  const name = `leader-${randomUUID().slice(0, 8)}`;
  const mine: Worker[] = [];
  const candidate = async (): Promise<Worker> => {
    const worker = await startWorker(backend, resource);
    everyone.push(worker);
    mine.push(worker);
    worker.send({ cmd: 'campaign', name, ttl, row });
    return worker;
  };
  let candidates: Worker[] = await Promise.all([candidate(), candidate(), candidate()]);
  const elections = (): { worker: Worker; message: Message }[] =>
    mine.flatMap((worker) =>
      worker.log.filter((m) => m.event === 'elected').map((message) => ({ worker, message })),
    );
  const term = (m: Message): number => m.term as number;
  // The leader is the holder of the highest term elected so far.
  const latest = () =>
    elections().reduce<ReturnType<typeof elections>[number] | undefined>(
      (best, e) => (best === undefined || term(e.message) > term(best.message) ? e : best),
      undefined,
    );
  let current = await until(latest, 15_000, 'first leader');
  for (let round = 0; round < rounds; round++) {
    await sleep(500);
    const old = latest() ?? current;
    const newer = () => {
      const e = latest();
      return e !== undefined && term(e.message) > term(old.message) ? e : undefined;
    };
    if (round % 2 === 0) {
      await old.worker.kill();
      const killedAt = Date.now();
      candidates = [...candidates.filter((c) => c !== old.worker), await candidate()];
      current = await until(newer, ttl + 5000, 'new leader after kill').catch((err: unknown) => {
        const tail = mine.map((w) => ({
          pid: w.pid,
          log: w.log.filter((m) => m.event !== 'leader-write').slice(-4),
        }));
        throw new Error(
          `${String(err)}; old leader ${old.worker.pid} term ${term(old.message)}; ${JSON.stringify(tail)}`,
        );
      });
      // A new leader within ttl + 1 s of the kill.
      expect((current.message.at as number) - killedAt).toBeLessThanOrEqual(ttl + 1000);
    } else {
      old.worker.child.kill('SIGSTOP');
      const stoppedAt = Date.now();
      current = await until(newer, ttl + 5000, 'new leader after stop');
      expect((current.message.at as number) - stoppedAt).toBeLessThanOrEqual(ttl + 1000);
      await sleep(Math.max(0, 2 * ttl - (Date.now() - stoppedAt)));
      old.worker.child.kill('SIGCONT');
      const resumedAt = Date.now();
      // The old leader's `revoked` fires as soon as it runs again: its lease ran out while it was stopped.
      const revoked = await until(
        () => old.worker.log.find((m) => m.event === 'revoked' && term(m) === term(old.message)),
        3000,
        'revoked on the old leader',
      );
      expect((revoked.at as number) - resumedAt).toBeLessThan(500);
    }
  }
  await sleep(300);
  // Terms strictly increase from one leader to the next.
  const terms = elections()
    .map((e) => e.message)
    .sort((a, b) => (a.at as number) - (b.at as number))
    .map(term);
  for (let i = 1; i < terms.length; i++) expect(terms[i]).toBeGreaterThan(terms[i - 1] as number);
  // 0 writes with a stale term accepted: accepted writes never go back to an older term.
  const writes = mine
    .flatMap((w) => w.log.filter((m) => m.event === 'leader-write' && m.accepted === true))
    .sort((a, b) => (a.at as number) - (b.at as number))
    .map(term);
  for (let i = 1; i < writes.length; i++) expect(writes[i]).toBeGreaterThanOrEqual(writes[i - 1] as number);
  const { rows } = await pool.query(`SELECT token FROM ${resource} WHERE id = $1`, [row]);
  expect(Number(rows[0]?.token)).toBe(Math.max(...terms));
  await Promise.all(candidates.map((c) => c.kill()));
}

describe(`leader election: 3 candidates, ${rounds} rounds of kill -9 / SIGSTOP of the leader`, () => {
  it('redis: terms increase, no stale write accepted, new leader within ttl + 1 s, old leader revoked', () =>
    run(specs(suffix).redis, 1));
  it('postgres: terms increase, no stale write accepted, new leader within ttl + 1 s, old leader revoked', () =>
    run(specs(suffix).postgres, 2));
  it('nats: terms increase, no stale write accepted, new leader within ttl + 1 s, old leader revoked', () =>
    run(specs(suffix).nats, 3));
});
