// A separate process for the fault tests: `node --conditions=@micro-os/source --import tsx worker.ts '<json>'`.
// It answers commands read from stdin, one JSON object per line, with JSON lines on stdout.
import { createInterface } from 'node:readline';
import { isMicroError, type MicroError } from '@micro-os/core';
import { election, type Lock } from '@micro-os/sync';
import type { fencedUpdate } from '@micro-os/sync/postgres';
import type pg from 'pg';
import { type BackendSpec, openLocks } from './backends.js';

interface Config {
  backend: BackendSpec;
  /** The protected resource: a row of this table, written only with a newer token. */
  database: string;
  resource: string;
}

const config = JSON.parse(process.argv[2] as string) as Config;
const locks = await openLocks(config.backend);
const elections = election(locks);
/** The protected resource's pool, opened on the first write: a crash-test holder never writes, and starts faster. */
let resource: Promise<{ pool: pg.Pool; update: typeof fencedUpdate }> | undefined;
const open = async (): Promise<{ pool: pg.Pool; update: typeof fencedUpdate }> => {
  const [{ default: driver }, { fencedUpdate: update }] = await Promise.all([
    import('pg'),
    import('@micro-os/sync/postgres'),
  ]);
  const pool = new driver.Pool({ connectionString: config.database, max: 1 });
  pool.on('error', () => undefined);
  return { pool, update };
};
const say = (message: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...message })}\n`);
};
const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const failure = (err: unknown): { code?: string; reason?: unknown; message: string } =>
  isMicroError(err)
    ? { code: (err as MicroError).code, reason: err.details.reason, message: err.message }
    : { message: String(err) };
const write = async (id: number, token: number): Promise<boolean> => {
  resource ??= open();
  const { pool, update } = await resource;
  return update(pool, {
    table: config.resource,
    key: id,
    token,
    tokenColumn: 'token',
    values: { writer: String(process.pid) },
  });
};

let held: Lock | undefined;

type Command =
  | { cmd: 'mutex'; name: string; row: number; count: number; ttl: number }
  | { cmd: 'acquire'; name: string; ttl: number }
  | { cmd: 'write'; row: number }
  | { cmd: 'release' }
  | { cmd: 'campaign'; name: string; ttl: number; row: number }
  | { cmd: 'exit' };

async function handle(command: Command): Promise<void> {
  switch (command.cmd) {
    case 'mutex': {
      // Acquire, write the protected row with the token, hold 0-10 ms, release; log (pid, token, enter, exit).
      const sections: [number, number, number, boolean][] = [];
      for (let i = 0; i < command.count; i++) {
        const lock = await locks.acquire(command.name, { ttl: command.ttl, wait: 60_000 });
        const enter = now();
        const accepted = await write(command.row, lock.token);
        await sleep(Math.random() * 10);
        const exit = now();
        sections.push([lock.token, enter, exit, accepted]);
        await lock.release();
        await sleep(Math.random() * 2);
      }
      say({ event: 'mutex', sections });
      return;
    }
    case 'acquire': {
      held = await locks.acquire(command.name, { ttl: command.ttl, wait: 10_000 });
      say({ event: 'acquired', token: held.token, validUntil: held.validUntil });
      return;
    }
    case 'write': {
      const lock = held as Lock;
      // A careful holder checks its signal first; the fencing check refuses the write even when it does not.
      const aborted = lock.signal.aborted;
      const accepted = await write(command.row, lock.token);
      say({ event: 'wrote', aborted, reason: failure(lock.signal.reason).reason, accepted });
      return;
    }
    case 'release': {
      const started = Date.now();
      const error = await (held as Lock).release().then(
        () => undefined,
        (err: unknown) => failure(err),
      );
      say({ event: 'released', error, took: Date.now() - started });
      return;
    }
    case 'campaign': {
      // Campaign, lead (writing with the term as fencing token every 100 ms) until revoked, campaign again.
      for (;;) {
        const elected = await elections.campaign(command.name, { ttl: command.ttl });
        say({ event: 'elected', term: elected.term, at: Date.now() });
        elected.revoked.addEventListener('abort', () =>
          say({ event: 'revoked', term: elected.term, at: Date.now() }),
        );
        while (!elected.revoked.aborted) {
          const accepted = await write(command.row, elected.term);
          say({ event: 'leader-write', term: elected.term, accepted, at: Date.now() });
          await sleep(100);
        }
      }
    }
    case 'exit': {
      await locks.close();
      if (resource !== undefined) await (await resource).pool.end();
      process.exit(0);
    }
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  handle(JSON.parse(line) as Command).catch((err: unknown) => say({ event: 'error', error: failure(err) }));
});
say({ event: 'ready' });
