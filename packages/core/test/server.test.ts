import {
  createServer,
  createService,
  isMicroError,
  MicroError,
  memoryBroker,
  memoryRegistry,
  memoryTransport,
} from '@micro-os/core';
import { describe, expect, it } from 'vitest';

const request = (endpoint: string, body: Uint8Array, contentType = 'application/json') => ({
  service: 'svc',
  endpoint,
  contentType,
  metadata: {},
  body,
});

describe('server', () => {
  it('registers on start with a TTL, re-registers on an interval and deregisters on stop', async () => {
    const registry = memoryRegistry();
    const svc = createService({ name: 'svc', registry, registerTtl: 300, transport: memoryTransport() });
    svc.handle('S.Ok', () => 'ok');
    await svc.start();
    expect((await registry.getService('svc'))[0]?.endpoints.map((e) => e.name)).toEqual(['S.Ok']);
    await new Promise((r) => setTimeout(r, 700));
    expect((await registry.getService('svc'))[0]?.nodes).toHaveLength(1);
    await svc.stop();
    await expect(registry.getService('svc')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('lets in-flight calls finish on stop, rejects new ones, then answers unavailable after the grace period', async () => {
    const registry = memoryRegistry();
    const transport = memoryTransport();
    const server = createServer({ name: 'svc', registry, transport, gracePeriod: 300 });
    server.handle('S.Short', async () => {
      await new Promise((r) => setTimeout(r, 100));
      return 'short done';
    });
    server.handle('S.Long', async () => {
      await new Promise((r) => setTimeout(r, 2000));
      return 'long done';
    });
    await server.start();
    const address = server.address as string;
    const body = new TextEncoder().encode('{}');
    const short = transport.request(address, request('S.Short', body));
    const long = transport.request(address, request('S.Long', body));
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    const stopping = server.stop();
    const shortRes = await short;
    expect(new TextDecoder().decode(shortRes.body)).toBe('"short done"');
    const longRes = await long;
    expect(longRes.error?.code).toBe('unavailable');
    await stopping;
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(transport.request(address, request('S.Short', body))).rejects.toMatchObject({
      code: 'unavailable',
    });
  });

  it('answers handlers that return a promise or a thenable, however soon they settle', async () => {
    const registry = memoryRegistry();
    const svc = createService({ name: 'later', registry });
    svc.handle('L.Async', async (req: { n: number }) => ({ n: req.n + 1 }));
    svc.handle('L.Thenable', (req: { n: number }) => ({
      // a thenable that calls back before its then() returns
      // biome-ignore lint/suspicious/noThenProperty: the case under test
      then: (resolve: (value: unknown) => void) => resolve({ n: req.n + 2 }),
    }));
    svc.handle('L.Fails', async () => {
      throw new MicroError('not_found', 'gone');
    });
    await svc.start();
    try {
      const calls = Array.from({ length: 20 }, (_, n) =>
        Promise.all([svc.call('later', 'L.Async', { n }), svc.call('later', 'L.Thenable', { n })]),
      );
      expect(await Promise.all(calls)).toEqual(
        Array.from({ length: 20 }, (_, n) => [{ n: n + 1 }, { n: n + 2 }]),
      );
      await expect(svc.call('later', 'L.Fails', {})).rejects.toMatchObject({ code: 'not_found' });
    } finally {
      await svc.stop();
    }
  });

  it('answers bad input with typed errors and keeps serving', async () => {
    const registry = memoryRegistry();
    const transport = memoryTransport({ maxMessageSize: 1024 });
    const server = createServer({ name: 'svc', registry, transport });
    server.handle('S.Echo', (req: unknown) => req);
    await server.start();
    const address = server.address as string;
    const garbage = new TextEncoder().encode('{not json');
    expect((await transport.request(address, request('S.Echo', garbage))).error?.code).toBe(
      'invalid_argument',
    );
    expect((await transport.request(address, request('S.Nope', garbage))).error?.code).toBe('unimplemented');
    expect(
      (await transport.request(address, request('S.Echo', new Uint8Array(1), 'application/x-unknown'))).error
        ?.code,
    ).toBe('invalid_argument');
    await expect(transport.request(address, request('S.Echo', new Uint8Array(2048)))).rejects.toMatchObject({
      code: 'resource_exhausted',
    });
    const ok = await transport.request(address, request('S.Echo', new TextEncoder().encode('[1]')));
    expect(new TextDecoder().decode(ok.body)).toBe('[1]');
    await server.stop();
  });

  it('rejects invalid names and options with invalid_argument', async () => {
    const registry = memoryRegistry();
    for (const name of ['', 'has space', 'a*', 'a>b', 'a/b', 'x'.repeat(200)]) {
      expect(() => createServer({ name, registry, transport: memoryTransport() })).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
    }
    expect(() =>
      createServer({ name: 'ok', registry, transport: memoryTransport(), registerTtl: 0 }),
    ).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    const svc = createService({ name: 'names', registry });
    expect(() => svc.handle('bad endpoint', () => 1)).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    svc.handle('N.Ok', () => 1);
    expect(() => svc.handle('N.Ok', () => 1)).toThrow(expect.objectContaining({ code: 'already_exists' }));
    await expect(svc.call('bad service', 'N.Ok', {})).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(svc.publish('bad topic', {})).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(svc.call('names', 'N.Ok', {}, { timeout: -1 })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });

  it('a throwing subscriber does not stop the others or crash the process', async () => {
    const registry = memoryRegistry();
    const errors: unknown[] = [];
    const broker = memoryBroker();
    const svc = createService({ name: 'subs', registry, broker, onError: (e) => errors.push(e) });
    const got: number[] = [];
    svc.subscribe<number>('jobs', (n) => {
      if (n === 2) throw new MicroError('internal', 'boom');
      got.push(n);
    });
    await svc.start();
    for (const n of [1, 2, 3]) await svc.publish('jobs', n);
    await new Promise((r) => setTimeout(r, 30));
    expect(got).toEqual([1, 3]);
    expect(errors).toHaveLength(1);
    expect(isMicroError(errors[0], 'internal')).toBe(true);
    await svc.stop();
  });

  it('starting twice fails with failed_precondition; stopping twice is harmless', async () => {
    const svc = createService({ name: 'twice', registry: memoryRegistry() });
    await svc.start();
    await expect(svc.start()).rejects.toMatchObject({ code: 'failed_precondition' });
    await svc.stop();
    await svc.stop();
  });
});
