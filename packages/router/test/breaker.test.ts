import { isMicroError, MicroError, memoryRegistry, roundRobin } from '@micro-os/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Router, routerSelector } from '../src/index.js';
import { type Fleet, sleep, startFleet } from './helpers.js';

describe('circuit breaker against an upstream failing 100%', () => {
  const coolDown = 300;
  let fleet: Fleet;
  let router: Router;
  let failing = true;
  beforeAll(async () => {
    fleet = await startFleet([
      {
        handle: () => {
          if (failing) throw new MicroError('unavailable', 'upstream down');
          return 'ok';
        },
      },
    ]);
    router = routerSelector({
      registry: fleet.registry,
      breaker: { errorRate: 0.5, minCalls: 5, coolDown, window: 60_000 },
      ejection: false,
    });
  });
  afterAll(async () => {
    await router.close();
    await fleet.close();
  });
  const upstream = () => fleet.nodes[0]?.calls ?? 0;
  const call = (client: ReturnType<Fleet['client']>) =>
    client.call(fleet.service, 'Echo.Call', {}).then(
      () => undefined,
      (e: unknown) => e,
    );

  it('opens after the configured minimum of calls at the error rate, then fails fast with unavailable', async () => {
    const client = fleet.client(router);
    for (let i = 0; i < 5; i++) expect(isMicroError(await call(client), 'unavailable')).toBe(true);
    expect(upstream()).toBe(5);
    const durations: number[] = [];
    for (let i = 0; i < 50; i++) {
      const start = performance.now();
      const err = await call(client);
      durations.push(performance.now() - start);
      expect(isMicroError(err, 'unavailable')).toBe(true);
      expect((err as MicroError).message).toMatch(/open circuit breaker/);
    }
    durations.sort((a, b) => a - b);
    expect(durations[25]).toBeLessThan(5);
    expect(upstream()).toBe(5);
    expect(router.stats().nodes[0]?.breaker).toBe('open');
  });

  it('sends exactly one probe per cool-down while the upstream keeps failing', async () => {
    const client = fleet.client(router);
    for (let round = 1; round <= 3; round++) {
      await sleep(coolDown + 20);
      const results = await Promise.all(Array.from({ length: 20 }, () => call(client)));
      expect(results.every((e) => isMicroError(e, 'unavailable'))).toBe(true);
      expect(upstream()).toBe(5 + round);
      // Calls later in the same cool-down do not probe again.
      await sleep(coolDown / 3);
      await Promise.all(Array.from({ length: 10 }, () => call(client)));
      expect(upstream()).toBe(5 + round);
    }
  });

  it('closes again when the probe succeeds', async () => {
    failing = false;
    const client = fleet.client(router);
    await sleep(coolDown + 20);
    expect(await call(client)).toBeUndefined();
    expect(router.stats().nodes[0]?.breaker).toBe('closed');
    for (let i = 0; i < 10; i++) expect(await call(client)).toBeUndefined();
  });
});

describe('breaker error rate', () => {
  it('stays closed below the error rate and ignores application errors', async () => {
    let n = 0;
    const fleet = await startFleet([
      {
        handle: () => {
          n++;
          if (n % 3 === 0) throw new MicroError('unavailable', 'one in three');
          throw new MicroError('not_found', 'application error');
        },
      },
    ]);
    const router = routerSelector({ registry: fleet.registry, breaker: { errorRate: 0.5, minCalls: 4 } });
    const client = fleet.client(router);
    for (let i = 0; i < 30; i++) await client.call(fleet.service, 'Echo.Call', {}).catch(() => undefined);
    expect(fleet.nodes[0]?.calls).toBe(30);
    expect(router.stats().nodes[0]?.breaker).toBe('closed');
    await router.close();
    await fleet.close();
  });
});

describe('breaker with a caller-supplied core strategy', () => {
  it('still admits a single half-open probe', async () => {
    const registry = memoryRegistry();
    await registry.register({
      name: 'solo',
      version: '1',
      metadata: {},
      endpoints: [],
      nodes: [{ id: 'solo-1', address: 'memory://solo-1', metadata: {} }],
    });
    const router = routerSelector({ registry, breaker: { minCalls: 1, coolDown: 50 }, ejection: false });
    const down = new MicroError('unavailable', 'down');
    router.mark('solo', (await router.select('solo', { strategy: roundRobin() }))(), down);
    await sleep(70);
    const first = await router.select('solo', { strategy: roundRobin() });
    const second = await router.select('solo', { strategy: roundRobin() });
    expect(first().id).toBe('solo-1');
    expect(() => second()).toThrow(/unavailable|no available node/);
    await router.close();
    await registry.close();
  });
});
