import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { createClient, createServer, type MicroError, memoryRegistry, memoryTransport } from '@micro-os/core';
import { requireServer, testServers } from '@micro-os/core/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authClient, authHandler, createAuth, rules } from '../src/index.js';
import { postgresAuthStore } from '../src/postgres.js';
import { redisAuthStore } from '../src/redis.js';

/** 20 distinct canaries; none may appear in any log line or error the package produces. */
const canaries = Array.from({ length: 20 }, (_, i) => `CANARY${i}x${randomBytes(6).toString('hex')}`);
const c = (i: number): string => canaries[i] as string;

describe('20 canary secrets never appear in log output or errors', () => {
  const output: string[] = [];
  const errors: unknown[] = [];
  const restore: (() => void)[] = [];

  beforeAll(async () => {
    await requireServer('redis');
    await requireServer('postgres');
    for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      const original = console[level];
      console[level] = (...args: unknown[]) => {
        output.push(args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 10 }))).join(' '));
      };
      restore.push(() => {
        console[level] = original;
      });
    }
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        output.push(String(chunk));
        return original(chunk as string, ...(rest as []));
      }) as typeof stream.write;
      restore.push(() => {
        stream.write = original;
      });
    }
  });
  afterAll(() => {
    for (const undo of restore) undo();
  });

  const attempt = async (fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      errors.push(err);
    }
  };

  it('survives canaries in secrets, tokens, headers, error paths and connection strings', async () => {
    const auth = createAuth();
    // Fields: account secrets (0-3).
    for (let i = 0; i < 4; i++) await auth.generate(`acct-${i}`, { type: 'service', secret: c(i) });
    // Error messages: wrong secrets, unknown accounts, bad refresh tokens, bad revocations (4-9).
    await attempt(() => auth.token({ id: 'acct-0', secret: c(4) }));
    await attempt(() => auth.token({ id: c(5), secret: c(0) }));
    await attempt(() => auth.token({ refreshToken: `mrt_${c(6)}` }));
    await attempt(() => auth.token({ refreshToken: c(7) }));
    await attempt(() => auth.revoke(c(8)));
    await attempt(() => auth.generate(`bad id ${c(9)}`, { secret: c(9) }));
    // Headers: bearer tokens and authorization values reaching a handler (10-14).
    const registry = memoryRegistry();
    const transport = memoryTransport();
    const server = createServer({
      name: 'canary',
      registry,
      transport,
      wrappers: [
        authHandler({ verifier: auth.verifier, rules: rules([{ resource: '*', access: 'allow' }]) }),
      ],
    });
    server.handle('Echo.Call', () => 'ok');
    await server.start();
    const plain = createClient({ registry, transport, retries: 0 });
    await attempt(() =>
      plain.call('canary', 'Echo.Call', {}, { metadata: { authorization: `Bearer ${c(10)}` } }),
    );
    await attempt(() =>
      plain.call('canary', 'Echo.Call', {}, { metadata: { authorization: `Basic ${c(11)}` } }),
    );
    const forged = `${Buffer.from(JSON.stringify({ alg: c(12), typ: 'at+jwt' })).toString('base64url')}.e30.AAAA`;
    await attempt(() =>
      plain.call('canary', 'Echo.Call', {}, { metadata: { authorization: `Bearer ${forged}` } }),
    );
    const crit = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', crit: [c(13)] })).toString('base64url')}.e30.AAAA`;
    await attempt(() =>
      plain.call('canary', 'Echo.Call', {}, { metadata: { authorization: `Bearer ${crit}` } }),
    );
    const wrapped = createClient({
      registry,
      transport,
      retries: 0,
      wrappers: [authClient({ auth, id: 'acct-1', secret: c(14) })],
    });
    await attempt(() => wrapped.call('canary', 'Echo.Call', {}));
    const good = createClient({
      registry,
      transport,
      retries: 0,
      wrappers: [authClient({ auth, id: 'acct-2', secret: c(2) })],
    });
    expect(await good.call('canary', 'Echo.Call', {})).toBe('ok');
    // Connection strings: unreachable and reachable servers with passwords (15-19).
    for (const url of [
      `redis://:${c(15)}@127.0.0.1:1/0`,
      `redis://:${c(16)}@${new URL(testServers.redis).host}/0`,
      `postgres://postgres:${c(17)}@127.0.0.1:1/test`,
      `postgres://${c(18)}:${c(18)}@127.0.0.1:1/test`,
    ]) {
      const store = url.startsWith('redis')
        ? redisAuthStore({ url, timeout: 300 })
        : postgresAuthStore({ url, timeout: 500 });
      await attempt(() => store.isRevoked('x'));
      await attempt(() => store.getAccount('x'));
      await store.close();
    }
    const table = `canary_auth_${randomBytes(4).toString('hex')}`;
    const trusted = postgresAuthStore({
      url: `postgres://postgres:${c(19)}@${new URL(testServers.postgres).host}${new URL(testServers.postgres).pathname}`,
      table,
    });
    await attempt(() =>
      createAuth({ store: trusted }).generate(`canary-${randomBytes(4).toString('hex')}`, { secret: c(19) }),
    );
    await trusted.close();
    const pool = new pg.Pool({ connectionString: testServers.postgres });
    for (const suffix of ['accounts', 'refresh_tokens', 'revocations'])
      await pool.query(`DROP TABLE IF EXISTS "${table}_${suffix}"`);
    await pool.end();
    await Promise.all([plain.close(), wrapped.close(), good.close()]);
    await server.stop();

    expect(errors.length).toBeGreaterThanOrEqual(14);
    const texts = [
      ...output,
      ...errors.map((e) => inspect(e, { depth: 10 })),
      ...errors.map((e) => JSON.stringify(e)),
      ...errors.map((e) => `${(e as MicroError).message} ${JSON.stringify((e as MicroError).details)}`),
    ].join('\n');
    const leaked = canaries.filter((canary) => texts.includes(canary));
    expect(leaked).toEqual([]);
  });
});
