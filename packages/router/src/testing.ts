import { randomUUID } from 'node:crypto';
import {
  filterMetadata,
  isMicroError,
  memoryRegistry,
  type Next,
  type Registry,
  type SelectOptions,
  type Selector,
  type Service,
} from '@micro-os/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface SelectorSuiteOptions {
  /** A fresh selector over `registry`. */
  create: (registry: Registry) => Promise<Selector> | Selector;
}

const fleetOf = (name: string, count: number): Service => ({
  name,
  version: '1.0.0',
  metadata: {},
  endpoints: [],
  nodes: Array.from({ length: count }, (_, i) => ({
    id: `${name}-${i}`,
    address: `memory://${name}-${i}`,
    metadata: { zone: i === 0 ? 'a' : 'b' },
  })),
});

/** The Selector contract every router configuration (and core's cachedSelector) keeps. */
export function selectorSuite(name: string, options: SelectorSuiteOptions): void {
  describe(`Selector conformance: ${name}`, () => {
    const registry = memoryRegistry();
    const service = `suite-${randomUUID().slice(0, 8)}`;
    let selector: Selector;
    /** Selectors may answer synchronously or with a promise, and may throw either way. */
    const select = async (name: string, selectOptions?: SelectOptions): Promise<Next> =>
      selector.select(name, selectOptions);
    beforeAll(async () => {
      await registry.register(fleetOf(service, 3));
      selector = await options.create(registry);
    });
    afterAll(async () => {
      await selector?.close();
      await registry.close();
    });

    it('picks a registered node of the service', async () => {
      const next = await select(service);
      const node = next();
      expect(fleetOf(service, 3).nodes.map((n) => n.id)).toContain(node.id);
      selector.mark(service, node);
    });

    it('answers not_found for a service nobody registered', async () => {
      const err = await select(`missing-${randomUUID().slice(0, 8)}`).catch((e: unknown) => e);
      expect(isMicroError(err, 'not_found')).toBe(true);
    });

    it('answers invalid_argument for a malformed service name', async () => {
      const err = await select('bad name!').catch((e: unknown) => e);
      expect(isMicroError(err, 'invalid_argument')).toBe(true);
    });

    it('answers unavailable when the filters leave no node', async () => {
      const err = await select(service, { filters: [filterMetadata('zone', 'nowhere')] }).catch(
        (e: unknown) => e,
      );
      expect(isMicroError(err, 'unavailable')).toBe(true);
    });

    it('applies filters to the candidates', async () => {
      for (let i = 0; i < 20; i++) {
        const node = (await select(service, { filters: [filterMetadata('zone', 'a')] }))();
        expect(node.id).toBe(`${service}-0`);
        selector.mark(service, node);
      }
    });

    it('moves retries of one call to nodes not tried yet', async () => {
      const next = await select(service);
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const node = next();
        seen.add(node.id);
        selector.mark(service, node);
      }
      expect(seen.size).toBe(3);
    });

    it('spreads calls over every node of a new service', async () => {
      const fresh = `suite-${randomUUID().slice(0, 8)}`;
      await registry.register(fleetOf(fresh, 3));
      const seen = new Set<string>();
      for (let i = 0; i < 60; i++) {
        const node = (await select(fresh))();
        seen.add(node.id);
        selector.mark(fresh, node);
      }
      expect(seen.size).toBe(3);
    });

    it('closes twice without error', async () => {
      const extra = await options.create(registry);
      await extra.close();
      await extra.close();
    });
  });
}
