import { redisLocks } from '@micro-os/sync/redis';
import { electionSuite, locksSuite } from '@micro-os/sync/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OwnServer, ownRedis } from './servers.js';

// A quorum of three independent throwaway redis-servers on random loopback ports.
const nodes: OwnServer[] = [];
beforeAll(async () => {
  nodes.push(...(await Promise.all([ownRedis(), ownRedis(), ownRedis()])));
});
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});
const quorum = () => redisLocks({ url: nodes.map((n) => n.url) });
locksSuite('redis quorum of 3', { create: quorum });
electionSuite('redis quorum of 3', { create: quorum });

describe('redis quorum', () => {
  it('keeps working with one node down, and tokens keep increasing', async () => {
    const locks = quorum();
    const first = await locks.acquire('one-down', { ttl: 2000 });
    await first.release();
    await nodes[0]?.kill();
    const second = await locks.acquire('one-down', { ttl: 2000, wait: 2000 });
    expect(second.token).toBeGreaterThan(first.token);
    await second.release();
    await nodes[0]?.restart();
    await locks.close();
  });

  it('rejects a node list that can never form a quorum with invalid_argument', () => {
    expect(() => redisLocks({ url: [] })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => redisLocks({ url: ['redis://127.0.0.1:1', 'redis://127.0.0.1:1'] })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });
});
