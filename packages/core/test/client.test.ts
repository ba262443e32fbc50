import {
  type CallContext,
  createService,
  currentContext,
  isMicroError,
  MicroError,
  type MicroService,
  memoryBroker,
  memoryRegistry,
  memoryTransport,
  type Registry,
  type ServiceOptions,
} from '@micro-os/core';
import { afterEach, describe, expect, it } from 'vitest';

const started: MicroService[] = [];
async function service(
  options: Partial<ServiceOptions> & { name: string; registry: Registry },
): Promise<MicroService> {
  const svc = createService({ transport: memoryTransport(), broker: memoryBroker(), ...options });
  started.push(svc);
  return svc;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop()));
});

describe('client', () => {
  it('calls a handler and returns its response with response metadata', async () => {
    const registry = memoryRegistry();
    const greeter = await service({ name: 'greeter', registry });
    greeter.handle<{ name: string }, { msg: string }>('Greeter.Hello', (req, ctx) => {
      ctx.responseMetadata['x-served-by'] = 'greeter';
      return { msg: `hello ${req.name} from ${ctx.metadata['x-user']}` };
    });
    await greeter.start();
    const client = await service({ name: 'client', registry });
    const res = await client.client.callWithMetadata(
      'greeter',
      'Greeter.Hello',
      { name: 'ada' },
      { metadata: { 'X-User': 'bob' } },
    );
    expect(res.body).toEqual({ msg: 'hello ada from bob' });
    expect(res.metadata['x-served-by']).toBe('greeter');
  });

  it('round-trips a MicroError: code, message and details', async () => {
    const registry = memoryRegistry();
    const svc = await service({ name: 'users', registry });
    svc.handle('Users.Get', () => {
      throw new MicroError('not_found', 'user 7 not found', { details: { id: 7 } });
    });
    await svc.start();
    const err = await svc.call('users', 'Users.Get', {}).catch((e: unknown) => e);
    expect(isMicroError(err, 'not_found')).toBe(true);
    expect((err as MicroError).message).toBe('user 7 not found');
    expect((err as MicroError).details).toEqual({ id: 7 });
  });

  it('retries retryable codes with backoff and never retries the others', async () => {
    const registry = memoryRegistry();
    const svc = await service({ name: 'flaky', registry, retries: 3 });
    let unavailableCalls = 0;
    let invalidCalls = 0;
    svc.handle('Flaky.Unavailable', () => {
      unavailableCalls++;
      if (unavailableCalls < 3) throw new MicroError('unavailable', 'try again');
      return 'ok';
    });
    svc.handle('Flaky.Invalid', () => {
      invalidCalls++;
      throw new MicroError('invalid_argument', 'bad');
    });
    await svc.start();
    expect(await svc.call('flaky', 'Flaky.Unavailable', {})).toBe('ok');
    expect(unavailableCalls).toBe(3);
    await expect(svc.call('flaky', 'Flaky.Invalid', {})).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(invalidCalls).toBe(1);
  });

  it('waits between retries following the backoff', async () => {
    const registry = memoryRegistry();
    const delays: number[] = [];
    const svc = await service({
      name: 'backoff',
      registry,
      retries: 2,
      backoff: (attempt) => {
        delays.push(attempt);
        return 30 * attempt;
      },
    });
    svc.handle('B.Fail', () => {
      throw new MicroError('unavailable', 'down');
    });
    await svc.start();
    const t0 = Date.now();
    await expect(svc.call('backoff', 'B.Fail', {})).rejects.toMatchObject({ code: 'unavailable' });
    expect(delays).toEqual([1, 2]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(85);
  });

  it('times out with deadline_exceeded and gives the handler a deadline and a signal', async () => {
    const registry = memoryRegistry();
    const svc = await service({ name: 'slow', registry });
    let seen: CallContext | undefined;
    let aborted = false;
    svc.handle('Slow.Wait', async (_req, ctx) => {
      seen = ctx;
      ctx.signal.addEventListener('abort', () => {
        aborted = true;
      });
      await new Promise((r) => setTimeout(r, 600));
      return 'late';
    });
    await svc.start();
    const t0 = Date.now();
    const err = await svc.call('slow', 'Slow.Wait', {}, { timeout: 200 }).catch((e: unknown) => e);
    expect(isMicroError(err, 'deadline_exceeded')).toBe(true);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(seen?.deadline).toBeGreaterThan(t0 + 100);
    expect(seen?.deadline).toBeLessThanOrEqual(t0 + 250);
    await new Promise((r) => setTimeout(r, 100));
    expect(aborted).toBe(true);
  });

  it('propagates the deadline across two hops: the inner call inherits what remains', async () => {
    const registry = memoryRegistry();
    const front = await service({ name: 'front', registry });
    const back = await service({ name: 'back', registry });
    let innerDeadline: number | undefined;
    let outerDeadline: number | undefined;
    back.handle('Back.Work', async (_req, ctx) => {
      innerDeadline = ctx.deadline;
      await new Promise((r) => setTimeout(r, 1000));
      return 'done';
    });
    front.handle('Front.Work', async (_req, ctx) => {
      outerDeadline = ctx.deadline;
      await new Promise((r) => setTimeout(r, 50));
      return front.call('back', 'Back.Work', {}, { timeout: 10_000 });
    });
    await front.start();
    await back.start();
    const t0 = Date.now();
    const err = await front.call('front', 'Front.Work', {}, { timeout: 300 }).catch((e: unknown) => e);
    expect(isMicroError(err, 'deadline_exceeded')).toBe(true);
    expect(Date.now() - t0).toBeLessThan(700);
    expect(innerDeadline).toBeDefined();
    expect(outerDeadline).toBeDefined();
    expect(innerDeadline as number).toBeLessThanOrEqual((outerDeadline as number) + 5);
    expect(currentContext()).toBeUndefined();
  });

  it('cancels an in-flight call when its signal aborts', async () => {
    const registry = memoryRegistry();
    const svc = await service({ name: 'cancel', registry });
    let handlerSignal: AbortSignal | undefined;
    svc.handle('C.Wait', async (_req, ctx) => {
      handlerSignal = ctx.signal;
      await new Promise((r) => setTimeout(r, 500));
      return 'x';
    });
    await svc.start();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await svc
      .call('cancel', 'C.Wait', {}, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(isMicroError(err, 'aborted')).toBe(true);
    expect(handlerSignal?.aborted).toBe(true);
  });

  it('answers not_found for an unknown service and unimplemented for an unknown endpoint', async () => {
    const registry = memoryRegistry();
    const svc = await service({ name: 'known', registry });
    svc.handle('K.Ok', () => 'ok');
    await svc.start();
    await expect(svc.call('nobody', 'X.Y', {})).rejects.toMatchObject({ code: 'not_found' });
    await expect(svc.call('known', 'K.Missing', {})).rejects.toMatchObject({ code: 'unimplemented' });
  });

  it('answers unavailable when no node is healthy, and balances across healthy nodes', async () => {
    const registry = memoryRegistry();
    const hits: string[] = [];
    for (const id of ['a', 'b']) {
      const node = await service({ name: 'pool', registry, metadata: { id } });
      node.handle('P.Who', () => {
        hits.push(id);
        return id;
      });
      await node.start();
    }
    const client = await service({ name: 'pool-client', registry });
    for (let i = 0; i < 10; i++) await client.call('pool', 'P.Who', {});
    expect(hits.filter((h) => h === 'a')).toHaveLength(5);
    expect(hits.filter((h) => h === 'b')).toHaveLength(5);

    const dead = await service({ name: 'ghost', registry });
    dead.handle('G.X', () => 'x');
    await dead.start();
    // The node stays in the registry but its listener is gone: every attempt fails, then no node is healthy.
    await dead.transport.close();
    await expect(client.call('ghost', 'G.X', {}, { retries: 1 })).rejects.toMatchObject({
      code: 'unavailable',
    });
    const err = await client.call('ghost', 'G.X', {}, { retries: 0 }).catch((e: unknown) => e);
    expect(isMicroError(err, 'unavailable')).toBe(true);
    expect((err as MicroError).message).toMatch(/no healthy node/);
  });

  it('runs client wrappers in order around every call', async () => {
    const registry = memoryRegistry();
    const order: string[] = [];
    const svc = await service({
      name: 'wrapped',
      registry,
      clientWrappers: [
        (next) => async (req, opts) => {
          order.push('outer');
          req.metadata['x-wrapped'] = 'yes';
          return next(req, opts);
        },
        (next) => async (req, opts) => {
          order.push('inner');
          return next(req, opts);
        },
      ],
      handlerWrappers: [
        (next) => async (req, ctx) => {
          order.push(`handler-wrapper:${ctx.metadata['x-wrapped']}`);
          return next(req, ctx);
        },
      ],
    });
    svc.handle('W.Echo', (req: unknown) => req);
    await svc.start();
    expect(await svc.call('wrapped', 'W.Echo', { a: 1 })).toEqual({ a: 1 });
    expect(order).toEqual(['outer', 'inner', 'handler-wrapper:yes']);
  });

  it('publishes messages with metadata to subscribers and queue groups', async () => {
    const registry = memoryRegistry();
    const got: string[] = [];
    const svc = await service({ name: 'pubsub', registry, broker: memoryBroker() });
    svc.subscribe<{ n: number }>(
      'orders.created',
      (msg, ctx) => void got.push(`${msg.n}:${ctx.metadata['x-src']}`),
    );
    await svc.start();
    await svc.publish('orders.created', { n: 1 }, { metadata: { 'x-src': 'test' } });
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual(['1:test']);
  });

  it('encodes with msgpack when asked, the content type travelling with the message', async () => {
    const { msgpackCodec } = await import('@micro-os/core/msgpack');
    const registry = memoryRegistry();
    const svc = await service({ name: 'binary', registry, codecs: [msgpackCodec] });
    let contentType = '';
    svc.handle('B.Echo', (req: unknown, ctx) => {
      contentType = ctx.contentType;
      return req;
    });
    await svc.start();
    const payload = { bytes: new Uint8Array([1, 2, 3]), n: 1.5, s: 'x' };
    const res = await svc.call<typeof payload>('binary', 'B.Echo', payload);
    expect(res.n).toBe(1.5);
    expect(Array.from(res.bytes)).toEqual([1, 2, 3]);
    expect(contentType).toBe('application/msgpack');
    const json = await svc.call('binary', 'B.Echo', { a: 1 }, { contentType: 'application/json' });
    expect(json).toEqual({ a: 1 });
    expect(contentType).toBe('application/json');
  });
});
