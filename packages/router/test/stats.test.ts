import { MicroError, memoryBroker, memoryRegistry, type Node } from '@micro-os/core';
import { describe, expect, it } from 'vitest';
import { routerSelector } from '../src/index.js';
import { sleep, startFleet } from './helpers.js';

describe('latency, load and stats', () => {
  it('measures the latency of calls made through the core client without a wrapper', async () => {
    const fleet = await startFleet([{ handle: () => sleep(20) }]);
    const router = routerSelector({ registry: fleet.registry });
    const client = fleet.client(router);
    for (let i = 0; i < 5; i++) await client.call(fleet.service, 'Echo.Call', {});
    const [stats] = router.stats().nodes;
    expect(stats?.calls).toBe(5);
    expect(stats?.outstanding).toBe(0);
    expect(stats?.latency).toBeGreaterThanOrEqual(18);
    expect(stats?.latency).toBeLessThan(500);
    await router.close();
    await fleet.close();
  });

  it('p2c-ewma steers calls away from a node ten times slower', async () => {
    const fleet = await startFleet([
      { handle: () => sleep(2) },
      { handle: () => sleep(2) },
      { handle: () => sleep(2) },
      { handle: () => sleep(20) },
    ]);
    const router = routerSelector({ registry: fleet.registry, strategy: 'p2c-ewma' });
    const client = fleet.client(router);
    const worker = async () => {
      for (let i = 0; i < 100; i++) await client.call(fleet.service, 'Echo.Call', {});
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(fleet.nodes[3]?.calls).toBeLessThan(400 * 0.1);
    await router.close();
    await fleet.close();
  });

  it('least-outstanding picks the node with the fewest calls in flight', async () => {
    const fleet = await startFleet([{}, {}, {}]);
    const router = routerSelector({ registry: fleet.registry, strategy: 'least-outstanding' });
    const held: Node[] = [];
    for (let i = 0; i < 3; i++) held.push((await router.select(fleet.service))());
    expect(new Set(held.map((n) => n.id)).size).toBe(3);
    const released = held[1] as Node;
    router.mark(fleet.service, released);
    for (let i = 0; i < 5; i++) {
      const node = (await router.select(fleet.service))();
      expect(node.id).toBe(released.id);
      router.mark(fleet.service, node);
    }
    await router.close();
    await fleet.close();
  });

  it('record() feeds outcomes of calls made without the selector', async () => {
    const router = routerSelector({ registry: memoryRegistry(), breaker: { minCalls: 2, errorRate: 0.5 } });
    const node: Node = { id: 'n1', address: 'memory://n1', metadata: {} };
    router.record({ service: 'greeter' }, node, 12, undefined);
    router.record({ service: 'greeter' }, node, 12, new MicroError('unavailable', 'down'));
    const [stats] = router.stats().nodes;
    expect(stats).toMatchObject({ service: 'greeter', node: 'n1', calls: 2, failures: 1, latency: 12 });
    expect(stats?.breaker).toBe('open');
    expect(() => router.record({ service: 'greeter' }, node, -1, undefined)).toThrow(/duration/);
    await router.close();
  });

  it('publishes stats on the broker so every router routes on the fleet-wide view', async () => {
    const fleet = await startFleet([{}, {}]);
    const broker = memoryBroker();
    const topic = `router.stats.${fleet.service}`;
    const a = routerSelector({ registry: fleet.registry, fleet: { broker, topic, interval: 30 } });
    const b = routerSelector({ registry: fleet.registry, fleet: { broker, topic, interval: 30 } });
    const [first, second] = fleet.registry && (await fleet.registry.getService(fleet.service))[0]!.nodes;
    a.record({ service: fleet.service }, first as Node, 40, undefined);
    a.record({ service: fleet.service }, second as Node, 4, undefined);
    (await b.select(fleet.service))();
    const deadline = Date.now() + 3000;
    let view = b.stats().nodes.find((n) => n.node === first?.id);
    while ((view?.fleet.sources ?? 0) === 0 && Date.now() < deadline) {
      await sleep(20);
      view = b.stats().nodes.find((n) => n.node === first?.id);
    }
    expect(view?.fleet).toMatchObject({ latency: 40, sources: 1 });
    expect(view?.latency).toBe(0);
    // b has never called the slow node itself but avoids it, using a's view.
    let slow = 0;
    for (let i = 0; i < 200; i++) {
      const node = (await b.select(fleet.service))();
      if (node.id === first?.id) slow++;
      b.mark(fleet.service, node);
    }
    expect(slow).toBeLessThan(100);
    await a.close();
    await b.close();
    await fleet.close();
  });
});
