import { MicroError } from '@micro-os/core';
import { describe, expect, it } from 'vitest';
import { routerSelector } from '../src/index.js';
import { sleep, startFleet } from './helpers.js';

describe('outlier ejection', () => {
  it('sends no call to an ejected node during its ejection, and takes it back afterwards', async () => {
    const fleet = await startFleet([
      {},
      {},
      {
        handle: () => {
          throw new MicroError('unavailable', 'bad node');
        },
      },
    ]);
    const baseTime = 400;
    const router = routerSelector({
      registry: fleet.registry,
      strategy: 'round-robin',
      breaker: false,
      ejection: { consecutiveFailures: 3, baseTime, maxPercent: 50 },
    });
    const client = fleet.client(router);
    const bad = fleet.nodes[2];
    const call = () => client.call(fleet.service, 'Echo.Call', {}).catch(() => undefined);
    while ((bad?.calls ?? 0) < 3) await call();
    const ejectedAt = Date.now();
    expect(router.stats().nodes.find((n) => n.node === bad?.server.id)?.ejectedFor).toBeGreaterThan(0);
    let during = 0;
    while (during < 300 && Date.now() - ejectedAt < baseTime - 100) {
      await call();
      during++;
    }
    expect(during).toBeGreaterThan(20);
    expect(bad?.calls).toBe(3);
    await sleep(baseTime);
    for (let i = 0; i < 30; i++) await call();
    expect(bad?.calls).toBeGreaterThan(3);
    await router.close();
    await fleet.close();
  });

  it('never ejects more than maxPercent of the nodes', async () => {
    const fail = () => {
      throw new MicroError('unavailable', 'down');
    };
    const fleet = await startFleet([{ handle: fail }, { handle: fail }, { handle: fail }, { handle: fail }]);
    const router = routerSelector({
      registry: fleet.registry,
      breaker: false,
      ejection: { consecutiveFailures: 1, baseTime: 60_000, maxPercent: 50 },
    });
    const client = fleet.client(router);
    for (let i = 0; i < 40; i++) await client.call(fleet.service, 'Echo.Call', {}).catch(() => undefined);
    expect(router.stats().nodes.filter((n) => n.ejectedFor !== undefined)).toHaveLength(2);
    await router.close();
    await fleet.close();
  });
});
