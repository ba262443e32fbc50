import { randomUUID } from 'node:crypto';
import { requireServer } from '@micro-os/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendSpec } from './fault/backends.js';
import { createResource, newPool, specs, startWorker, type Worker } from './fault/harness.js';
import { type OwnServer, ownRedis } from './servers.js';

// Mutual exclusion across processes, the full size: 2 processes x 5,000 acquisitions each on one name
// per backend, holding 0-10 ms at random; the backends run side by side. Every critical section writes the
// protected Postgres row with `UPDATE ... WHERE token < $new` and logs (pid, token, enter, exit).
const perProcess = 5000;
const timeout = 380_000;

const suffix = randomUUID().slice(0, 8);
const pool = newPool();
let resource: string;
const quorum: OwnServer[] = [];
const workers: Worker[] = [];

beforeAll(async () => {
  await Promise.all([requireServer('redis'), requireServer('postgres'), requireServer('nats')]);
  resource = await createResource(pool, 4);
  quorum.push(...(await Promise.all([ownRedis(), ownRedis(), ownRedis()])));
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill()));
  await pool.query(
    `DROP TABLE IF EXISTS ${resource}, sync_fault_locks_${suffix}; DROP SEQUENCE IF EXISTS sync_fault_locks_${suffix}_token`,
  );
  await pool.end();
  await Promise.all(quorum.map((s) => s.stop()));
});

type Section = [token: number, enter: number, exit: number, accepted: boolean];

async function run(backend: BackendSpec, row: number): Promise<void> {
  const pair = await Promise.all([startWorker(backend, resource), startWorker(backend, resource)]);
  workers.push(...pair);
  const name = `mutex-${randomUUID().slice(0, 8)}`;
  for (const w of pair) w.send({ cmd: 'mutex', name, row, count: perProcess, ttl: 5000 });
  const results = await Promise.all(pair.map((w) => w.next('mutex', timeout)));
  const sections = results
    .flatMap((r) =>
      (r.sections as Section[]).map(([token, enter, exit, accepted]) => ({
        pid: r.pid,
        token,
        enter,
        exit,
        accepted,
      })),
    )
    .sort((a, b) => a.enter - b.enter);
  expect(sections).toHaveLength(2 * perProcess);
  let overlaps = 0;
  let backwards = 0;
  let staleAccepted = 0;
  let highestAccepted = 0;
  for (let i = 1; i < sections.length; i++) {
    const [prev, cur] = [sections[i - 1], sections[i]] as const;
    if (prev === undefined || cur === undefined) continue;
    if (cur.enter < prev.exit) overlaps += 1;
    if (cur.token <= prev.token) backwards += 1;
  }
  for (const s of sections) {
    if (s.accepted && s.token <= highestAccepted) staleAccepted += 1;
    if (s.accepted) highestAccepted = Math.max(highestAccepted, s.token);
  }
  expect({ overlaps, backwards, staleAccepted }).toEqual({ overlaps: 0, backwards: 0, staleAccepted: 0 });
  expect(sections.every((s) => s.accepted)).toBe(true);
  // Both processes got turns.
  expect(new Set(sections.map((s) => s.pid)).size).toBe(2);
  const { rows } = await pool.query(`SELECT token FROM ${resource} WHERE id = $1`, [row]);
  expect(Number(rows[0]?.token)).toBe(sections.at(-1)?.token);
  for (const w of pair) w.send({ cmd: 'exit' });
}

describe.concurrent(`mutual exclusion: 2 processes x ${perProcess} acquisitions`, () => {
  it('redis: 0 overlaps, 0 stale writes accepted, tokens strictly increasing', { timeout }, () =>
    run(specs(suffix).redis, 1),
  );
  it('redis quorum of 3: 0 overlaps, 0 stale writes accepted, tokens strictly increasing', { timeout }, () =>
    run({ kind: 'redis', urls: quorum.map((s) => s.url), prefix: `fault:${suffix}:` }, 2),
  );
  it('postgres: 0 overlaps, 0 stale writes accepted, tokens strictly increasing', { timeout }, () =>
    run(specs(suffix).postgres, 3),
  );
  it('nats: 0 overlaps, 0 stale writes accepted, tokens strictly increasing', { timeout }, () =>
    run(specs(suffix).nats, 4),
  );
});
