import { isMicroError } from '@micro-os/core';
import { Fence, lockFailure, memoryLocks } from '@micro-os/sync';
import { natsLocks } from '@micro-os/sync/nats';
import { postgresLocks } from '@micro-os/sync/postgres';
import { redisLocks } from '@micro-os/sync/redis';
import { describe, expect, it } from 'vitest';

const fieldOf = (make: () => unknown): unknown => {
  try {
    make();
  } catch (err) {
    expect(isMicroError(err, 'invalid_argument')).toBe(true);
    return isMicroError(err) ? err.details.field : undefined;
  }
  throw new Error('expected invalid_argument');
};

describe('factories reject invalid options with invalid_argument naming the field', () => {
  it('shared lock options', () => {
    expect(fieldOf(() => memoryLocks({ ttl: 0 }))).toBe('ttl');
    expect(fieldOf(() => memoryLocks({ ttl: Number.POSITIVE_INFINITY }))).toBe('ttl');
    expect(fieldOf(() => memoryLocks({ wait: -5 }))).toBe('wait');
    expect(fieldOf(() => memoryLocks({ driftFactor: 0.9 }))).toBe('driftFactor');
    expect(fieldOf(() => memoryLocks({ retryDelay: -1 }))).toBe('retryDelay');
  });

  it('redis: one of client or url, real URLs, no node twice', () => {
    expect(fieldOf(() => redisLocks({}))).toBe('client');
    expect(fieldOf(() => redisLocks({ url: 'localhost:6379' }))).toBe('url');
    expect(fieldOf(() => redisLocks({ url: [] }))).toBe('url');
  });

  it('postgres: one of pool or url, plain table names', () => {
    expect(fieldOf(() => postgresLocks({}))).toBe('pool');
    expect(fieldOf(() => postgresLocks({ url: 'postgres://x/y', table: 'locks; drop table x' }))).toBe(
      'table',
    );
  });

  it('nats: plain bucket names, non-empty servers', () => {
    expect(fieldOf(() => natsLocks({ bucket: 'a.b' }))).toBe('bucket');
    expect(fieldOf(() => natsLocks({ servers: [] }))).toBe('servers');
  });
});

describe('Fence', () => {
  it('admits only tokens above every token admitted before', () => {
    const fence = new Fence();
    expect(fence.tryAdmit(3)).toBe(true);
    expect(fence.tryAdmit(3)).toBe(false);
    expect(fence.tryAdmit(2)).toBe(false);
    fence.admit(7);
    expect(fence.highest).toBe(7);
    let err: unknown;
    try {
      fence.admit(5);
    } catch (e) {
      err = e;
    }
    expect(isMicroError(err, 'aborted')).toBe(true);
    expect(lockFailure(err)).toBe('stale_token');
  });
});

describe('lock names', () => {
  it('accepts dot-separated segments of the allowed characters and nothing else', async () => {
    const locks = memoryLocks();
    for (const name of ['a', 'orders.42', 'A-Z_0-9/x=y', 'a.b.c', '/']) {
      const lock = await locks.acquire(name, { wait: 0 });
      expect(lock.name).toBe(name);
      await lock.release();
    }
    for (const name of ['.a', 'a.', 'a..b', '.', 'a b', 'é', 'a:b', 'a*', 'a>', 'a\n']) {
      const err = await locks.acquire(name, { wait: 0 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isMicroError(err, 'invalid_argument'), name).toBe(true);
    }
    await locks.close();
  });
});
