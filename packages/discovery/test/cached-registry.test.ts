import { MicroError, memoryRegistry, type Registry, type Service } from '@micro-os/core';
import { describe, expect, it } from 'vitest';
import { cachedRegistry } from '../src/cached-registry.js';

const service = (ids: string[]): Service => ({
  name: 'greeter',
  version: '1.0.0',
  metadata: {},
  endpoints: [],
  nodes: ids.map((id) => ({ id, address: `127.0.0.1:${4000 + ids.indexOf(id)}`, metadata: {} })),
});

/** A memory registry that counts lookups and watches and can be made unreachable. */
function flaky(): {
  registry: Registry;
  lookups: () => number;
  watches: () => { started: number; open: number };
  down: (value: boolean) => void;
} {
  const inner = memoryRegistry();
  let lookups = 0;
  let started = 0;
  let open = 0;
  let isDown = false;
  const registry: Registry = {
    ...inner,
    name: 'flaky',
    register: (s, o) => inner.register(s, o),
    deregister: (s) => inner.deregister(s),
    listServices: (o) => inner.listServices(o),
    async *watch(o) {
      started += 1;
      open += 1;
      try {
        if (isDown) throw new MicroError('unavailable', 'backend down');
        for await (const event of inner.watch(o)) {
          if (isDown) throw new MicroError('unavailable', 'watch connection lost');
          yield event;
        }
      } finally {
        open -= 1;
      }
    },
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
    async getService(name, options) {
      lookups += 1;
      if (isDown) throw new MicroError('unavailable', 'backend down');
      return inner.getService(name, options);
    },
  };
  return {
    registry,
    lookups: () => lookups,
    watches: () => ({ started, open }),
    down: (value) => (isDown = value),
  };
}

describe('cachedRegistry', () => {
  it('serves repeated lookups from memory', async () => {
    const backend = flaky();
    const cached = cachedRegistry(backend.registry);
    await cached.register(service(['a']));
    await cached.getService('greeter');
    await new Promise((r) => setTimeout(r, 50));
    await cached.getService('greeter');
    const before = backend.lookups();
    for (let i = 0; i < 1000; i += 1) await cached.getService('greeter');
    expect(backend.lookups()).toBe(before);
    await cached.close();
  });

  it('a watch event invalidates the entry so the next lookup sees the change', async () => {
    const backend = flaky();
    const cached = cachedRegistry(backend.registry);
    await cached.register(service(['a']));
    await cached.getService('greeter');
    await new Promise((r) => setTimeout(r, 50));
    await backend.registry.register(service(['a', 'b']));
    await new Promise((r) => setTimeout(r, 50));
    expect((await cached.getService('greeter'))[0]?.nodes.map((n) => n.id)).toEqual(['a', 'b']);
    await cached.close();
  });

  it('serves the last known nodes flagged stale while the backend is unreachable', async () => {
    const backend = flaky();
    const cached = cachedRegistry(backend.registry, { maxAge: 50 });
    await cached.register(service(['a']));
    await cached.getService('greeter');
    backend.down(true);
    await new Promise((r) => setTimeout(r, 60));
    const [stale] = await cached.getService('greeter');
    expect(stale?.nodes.map((n) => n.id)).toEqual(['a']);
    expect(stale?.metadata['registry.stale']).toBe('true');
    expect(cached.cacheInfo('greeter')?.stale).toBe(true);
    backend.down(false);
    await cached.getService('greeter');
    await new Promise((r) => setTimeout(r, 20));
    const [fresh] = await cached.getService('greeter');
    expect(fresh?.metadata['registry.stale']).toBeUndefined();
    expect(cached.cacheInfo('greeter')?.stale).toBe(false);
    await cached.close();
  });

  it('keeps one watch, restarted with backoff, however many lookups happen while the backend is down', async () => {
    const backend = flaky();
    const cached = cachedRegistry(backend.registry, { maxAge: 50 });
    await cached.register(service(['a']));
    await cached.getService('greeter');
    backend.down(true);
    // The next event breaks the open watch; every new one fails at once, and the cache restarts it after
    // 200, 400, 800 ms... whatever the lookups do.
    await backend.registry.deregister(service(['a']));
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      await cached.getService('greeter');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(backend.watches().started).toBeLessThanOrEqual(5);
    backend.down(false);
    await new Promise((r) => setTimeout(r, 2100));
    expect(backend.watches().open).toBe(1);
    await cached.close();
  });

  it('an unknown service is not_found and an unreachable backend with nothing cached is unavailable', async () => {
    const backend = flaky();
    const cached = cachedRegistry(backend.registry);
    await expect(cached.getService('nobody')).rejects.toMatchObject({ code: 'not_found' });
    backend.down(true);
    await expect(cached.getService('nobody')).rejects.toMatchObject({ code: 'unavailable' });
    await cached.close();
  });

  it('rejects bad options with invalid_argument', () => {
    expect(() => cachedRegistry(memoryRegistry(), { maxAge: 0 })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });
});
