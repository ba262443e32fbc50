import { isMicroError } from '@micro-os/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Router, routerClient, routerSelector } from '../src/index.js';
import { type Fleet, startFleet } from './helpers.js';

const calls = 10_000;
const within2Percent = (got: number, target: number): void => {
  expect(Math.abs(got - target)).toBeLessThanOrEqual(target * 0.02);
};

describe('label routing and weighted splits', () => {
  let fleet: Fleet;
  let router: Router;
  beforeAll(async () => {
    fleet = await startFleet([
      { version: '1.0.0', metadata: { track: 'stable', zone: 'a' } },
      { version: '1.0.0', metadata: { track: 'stable', zone: 'b' } },
      { version: '1.0.0', metadata: { track: 'stable', zone: 'b' } },
      { version: '2.0.0', metadata: { track: 'canary', zone: 'a' } },
    ]);
    router = routerSelector({
      registry: fleet.registry,
      splits: { [fleet.service]: { by: 'version', weights: { '1.0.0': 90, '2.0.0': 10 } } },
    });
  });
  afterAll(async () => {
    await router.close();
    await fleet.close();
  });
  const reset = () => {
    for (const n of fleet.nodes) n.calls = 0;
  };
  const count = (pick: (i: number) => boolean) =>
    fleet.nodes.filter((_, i) => pick(i)).reduce((sum, n) => sum + n.calls, 0);

  it(`splits ${calls} calls 90/10 by version within 2% of the target`, async () => {
    reset();
    const client = fleet.client(router, [routerClient()]);
    for (let i = 0; i < calls; i++) await client.call(fleet.service, 'Echo.Call', {});
    within2Percent(
      count((i) => i < 3),
      calls * 0.9,
    );
    within2Percent(
      count((i) => i === 3),
      calls * 0.1,
    );
  });

  it('sends a call labelled X-Micro-Label-Track: canary only to canary nodes', async () => {
    reset();
    const client = fleet.client(router, [routerClient()]);
    for (let i = 0; i < 500; i++)
      await client.call(fleet.service, 'Echo.Call', {}, { metadata: { 'X-Micro-Label-Track': 'canary' } });
    expect(fleet.nodes[3]?.calls).toBe(500);
  });

  it('matches every label of a call, including the version', async () => {
    reset();
    const client = fleet.client(router, [routerClient()]);
    const metadata = { 'x-micro-label-zone': 'b', 'x-micro-label-version': '1.0.0' };
    for (let i = 0; i < 200; i++) await client.call(fleet.service, 'Echo.Call', {}, { metadata });
    expect(count((i) => i === 1 || i === 2)).toBe(200);
  });

  it('answers unavailable when no node carries the label', async () => {
    const client = fleet.client(router, [routerClient()]);
    const err = await client
      .call(fleet.service, 'Echo.Call', {}, { metadata: { 'x-micro-label-track': 'nightly' } })
      .catch((e: unknown) => e);
    expect(isMicroError(err, 'unavailable')).toBe(true);
  });

  it(`splits ${calls} calls 70/30 by a metadata label within 2% of the target`, async () => {
    const split = routerSelector({
      registry: fleet.registry,
      splits: { [fleet.service]: { by: 'zone', weights: { a: 70, b: 30 } } },
    });
    reset();
    const client = fleet.client(split, [routerClient()]);
    for (let i = 0; i < calls; i++) await client.call(fleet.service, 'Echo.Call', {});
    within2Percent(
      count((i) => i === 0 || i === 3),
      calls * 0.7,
    );
    within2Percent(
      count((i) => i === 1 || i === 2),
      calls * 0.3,
    );
    await split.close();
  });

  it('applies the static labels of the router to every call', async () => {
    const pinned = routerSelector({ registry: fleet.registry, labels: { zone: 'a' } });
    reset();
    const client = fleet.client(pinned);
    for (let i = 0; i < 100; i++) await client.call(fleet.service, 'Echo.Call', {});
    expect(count((i) => i === 0 || i === 3)).toBe(100);
    await pinned.close();
  });
});
