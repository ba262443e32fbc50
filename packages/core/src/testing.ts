import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Broker, BrokerMessage } from './broker.js';
import { isMicroError, MicroError } from './errors.js';
import type { Registry, RegistryEvent, Service } from './registry.js';
import type { Transport, TransportRequest } from './transport.js';
import { errorResponse } from './wire.js';

export type { TestServer } from './servers.js';
export { accepting, randomPort, requireServer, testServers, waitForPort } from './servers.js';

/**
 * Conformance suites: the behaviour of each interface, written once. A backend's test file calls the suite
 * with a factory; third parties can run them on their own backends.
 */

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);
const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const until = async (check: () => boolean, ms = 3000): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

export interface TransportSuiteOptions {
  /** A fresh transport; called once for the server side and once for the client side. */
  create: () => Promise<Transport> | Transport;
  /** The max message size the factory configured. @default 4 MiB */
  maxMessageSize?: number;
}

export function transportSuite(name: string, options: TransportSuiteOptions): void {
  describe(`Transport conformance: ${name}`, () => {
    let server: Transport;
    let client: Transport;
    beforeAll(async () => {
      server = await options.create();
      client = await options.create();
    });
    afterAll(async () => {
      await client?.close();
      await server?.close();
    });
    const request = (body: Uint8Array, extra: Partial<TransportRequest> = {}): TransportRequest => ({
      service: 'conformance',
      endpoint: 'Echo.Call',
      contentType: 'text/plain',
      metadata: { 'x-one': '1' },
      body,
      ...extra,
    });

    it('delivers a request and its response with metadata, content type and body intact', async () => {
      const listener = await server.listen(async (req) => ({
        contentType: req.contentType,
        metadata: { echoed: req.metadata['x-one'] ?? '', endpoint: req.endpoint, service: req.service },
        body: bytes(`echo:${text(req.body)}`),
      }));
      try {
        const res = await client.request(listener.address, request(bytes('hello')));
        expect(text(res.body)).toBe('echo:hello');
        expect(res.contentType).toBe('text/plain');
        expect(res.metadata).toMatchObject({ echoed: '1', endpoint: 'Echo.Call', service: 'conformance' });
        expect(res.error).toBeUndefined();
      } finally {
        await listener.close();
      }
    });

    it('carries the remaining timeout to the handler', async () => {
      let seen: number | undefined;
      const listener = await server.listen(async (req) => {
        seen = req.timeout;
        return { contentType: '', metadata: {}, body: new Uint8Array(0) };
      });
      try {
        await client.request(listener.address, request(new Uint8Array(0), { timeout: 1500 }));
        expect(seen).toBeGreaterThan(1000);
        expect(seen).toBeLessThanOrEqual(1500);
      } finally {
        await listener.close();
      }
    });

    it('answers many concurrent requests, each with its own response', async () => {
      const listener = await server.listen(async (req) => {
        await new Promise((r) => setTimeout(r, Math.random() * 5));
        return { contentType: '', metadata: {}, body: req.body };
      });
      try {
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => client.request(listener.address, request(bytes(String(i))))),
        );
        expect(results.map((r) => text(r.body))).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
      } finally {
        await listener.close();
      }
    });

    it('round-trips a MicroError unchanged: code, message and details', async () => {
      const listener = await server.listen(async () =>
        errorResponse(new MicroError('not_found', 'user 42 not found', { details: { id: 42, tags: ['a'] } })),
      );
      try {
        const res = await client.request(listener.address, request(new Uint8Array(0)));
        expect(res.error).toEqual({
          code: 'not_found',
          message: 'user 42 not found',
          details: { id: 42, tags: ['a'] },
        });
      } finally {
        await listener.close();
      }
    });

    it('passes binary bodies and non-ASCII metadata through byte for byte, small and large', async () => {
      const listener = await server.listen(async (req) => ({
        contentType: 'application/octet-stream',
        metadata: req.metadata,
        body: req.body,
      }));
      try {
        const metadata = { 'x-name': 'Zoë ☃ 𝄞 \u00ff\u0000' };
        for (const size of [256, 70_000]) {
          const body = new Uint8Array(size).map((_, i) => (i * 31) % 256);
          const res = await client.request(listener.address, { ...request(body), metadata });
          expect(Buffer.from(res.body).equals(Buffer.from(body))).toBe(true);
          expect(res.metadata).toEqual(metadata);
        }
      } finally {
        await listener.close();
      }
    });

    it('fails with deadline_exceeded when the handler outlives the timeout', async () => {
      const listener = await server.listen(async () => {
        await new Promise((r) => setTimeout(r, 500));
        return { contentType: '', metadata: {}, body: new Uint8Array(0) };
      });
      try {
        const started = Date.now();
        const err = await client
          .request(listener.address, request(new Uint8Array(0)), { timeout: 100 })
          .catch((e: unknown) => e);
        expect(isMicroError(err, 'deadline_exceeded')).toBe(true);
        expect(Date.now() - started).toBeLessThan(400);
      } finally {
        await listener.close();
      }
    });

    it('fails with aborted when the signal aborts mid-flight', async () => {
      const listener = await server.listen(async () => {
        await new Promise((r) => setTimeout(r, 500));
        return { contentType: '', metadata: {}, body: new Uint8Array(0) };
      });
      try {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 50);
        const err = await client
          .request(listener.address, request(new Uint8Array(0)), { signal: controller.signal })
          .catch((e: unknown) => e);
        expect(isMicroError(err, 'aborted')).toBe(true);
      } finally {
        await listener.close();
      }
    });

    it('rejects an oversized request with resource_exhausted', async () => {
      const listener = await server.listen(async () => ({
        contentType: '',
        metadata: {},
        body: new Uint8Array(0),
      }));
      try {
        const max = options.maxMessageSize ?? 4 * 1024 * 1024;
        const err = await client
          .request(listener.address, request(new Uint8Array(max + 1)))
          .catch((e: unknown) => e);
        expect(isMicroError(err, 'resource_exhausted')).toBe(true);
      } finally {
        await listener.close();
      }
    });

    it('answers concurrent calls that answer at once, later or with an error, each with its own outcome', async () => {
      // Even calls answer at once, odd ones after a delay (call 1 after 400 ms), every fifth fails.
      const listener = await server.listen((req) => {
        const n = Number(req.metadata.n);
        const res = { contentType: 'text/plain', metadata: { n: String(n) }, body: bytes(`res-${n}`) };
        if (n % 5 === 0) throw new MicroError('failed_precondition', `no ${n}`, { details: { n } });
        if (n % 2 === 0) return res;
        return new Promise((resolve) => setTimeout(() => resolve(res), n === 1 ? 400 : n % 7));
      });
      const started = Date.now();
      const done: number[] = [];
      try {
        // A handler's error comes back as the response's error, or as the rejection of an in-process transport.
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, n) =>
            client
              .request(listener.address, request(bytes(`req-${n}`), { metadata: { n: String(n) } }), {
                timeout: 5000,
              })
              .then(
                (res) => (res.error === undefined ? res : { error: res.error }),
                (err: unknown) => ({ error: isMicroError(err) ? err.toJSON() : err }),
              )
              .finally(() => done.push(Date.now() - started)),
          ),
        );
        results.forEach((res, n) => {
          if (n % 5 === 0)
            expect(res).toEqual({
              error: { code: 'failed_precondition', message: `no ${n}`, details: { n } },
            });
          else if ('body' in res) {
            expect(res.metadata.n).toBe(String(n));
            expect(text(res.body)).toBe(`res-${n}`);
          } else expect.unreachable(`call ${n} failed: ${JSON.stringify(res.error)}`);
        });
        // The slow call held up no other.
        expect(done.filter((ms) => ms < 300).length).toBeGreaterThanOrEqual(190);
      } finally {
        await listener.close();
      }
    });

    it('fails a call that times out or is aborted among concurrent ones alone', async () => {
      const served: number[] = [];
      const listener = await server.listen((req) => {
        const n = Number(req.metadata.n);
        served.push(n);
        const res = { contentType: '', metadata: {}, body: bytes(`res-${n}`) };
        if (n !== 0 && n !== 3) return res;
        return new Promise((resolve) => setTimeout(() => resolve(res), n === 0 ? 300 : 50));
      });
      const call = (n: number, options: { timeout?: number; signal?: AbortSignal } = {}) =>
        client.request(listener.address, request(bytes(''), { metadata: { n: String(n) } }), {
          timeout: 5000,
          ...options,
        });
      try {
        // One call in flight first, so that the next ones go together where a transport batches.
        const first = call(9);
        const aborted = new AbortController();
        const calls = [call(0, { timeout: 100 }), call(1), call(2), call(3, { signal: aborted.signal })];
        aborted.abort();
        const [slow, one, two, three] = await Promise.allSettled(calls);
        expect(slow).toMatchObject({ status: 'rejected', reason: { code: 'deadline_exceeded' } });
        expect(three).toMatchObject({ status: 'rejected', reason: { code: 'aborted' } });
        expect(one).toMatchObject({ status: 'fulfilled' });
        expect(two).toMatchObject({ status: 'fulfilled' });
        expect(text((await first).body)).toBe('res-9');
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(served).toEqual(expect.arrayContaining([0, 1, 2, 9]));
        expect(text((await call(4)).body)).toBe('res-4');
      } finally {
        await listener.close();
      }
    });

    it("passes a caller's abort on to the handler's signal, alone or among concurrent calls", async () => {
      // Every handler waits for its release or its signal; only the aborted calls' signals may abort.
      const signals = new Map<number, AbortSignal>();
      const releases: (() => void)[] = [];
      const listener = await server.listen((req, call) => {
        const n = Number(req.metadata.n);
        const { signal } = call;
        signals.set(n, signal);
        return new Promise((resolve) => {
          const answer = () => resolve({ contentType: '', metadata: {}, body: bytes(`res-${n}`) });
          releases.push(answer);
          signal.addEventListener('abort', answer, { once: true });
        });
      });
      const call = (n: number, signal?: AbortSignal) =>
        client.request(listener.address, request(bytes(''), { metadata: { n: String(n) } }), {
          timeout: 5000,
          signal,
        });
      try {
        // Alone: nothing else in flight.
        const lone = new AbortController();
        const first = call(0, lone.signal);
        await until(() => signals.has(0));
        lone.abort();
        await expect(first).rejects.toMatchObject({ code: 'aborted' });
        await until(() => signals.get(0)?.aborted === true);
        expect(signals.get(0)?.reason).toMatchObject({ code: 'aborted' });

        // Among others made in the same tick (one batch where a transport batches): only its own handler.
        const controllers = Array.from({ length: 6 }, () => new AbortController());
        const calls = controllers.map((c, i) => call(i + 1, c.signal));
        await until(() => signals.size === 7);
        controllers[2]?.abort();
        await expect(calls[2]).rejects.toMatchObject({ code: 'aborted' });
        await until(() => signals.get(3)?.aborted === true);
        await new Promise((resolve) => setTimeout(resolve, 100));
        for (const n of [1, 2, 4, 5, 6]) expect(signals.get(n)?.aborted, `call ${n}`).toBe(false);
        for (const release of releases) release();
        const answers = await Promise.allSettled(calls);
        answers.forEach((a, i) => {
          if (i !== 2) expect(a).toMatchObject({ status: 'fulfilled' });
        });
      } finally {
        for (const release of releases) release();
        await listener.close();
      }
    });

    it('fails with unavailable when nothing listens at the address', async () => {
      const listener = await server.listen(async () => ({
        contentType: '',
        metadata: {},
        body: new Uint8Array(0),
      }));
      const { address } = listener;
      await listener.close();
      const err = await client
        .request(address, request(new Uint8Array(0)), { timeout: 2000 })
        .catch((e: unknown) => e);
      expect(isMicroError(err, 'unavailable')).toBe(true);
    });
  });
}

export interface BrokerSuiteOptions {
  /** A fresh broker; the suite makes several to stand for separate processes. */
  create: () => Promise<Broker> | Broker;
  maxMessageSize?: number;
}

export function brokerSuite(name: string, options: BrokerSuiteOptions): void {
  describe(`Broker conformance: ${name}`, () => {
    const brokers: Broker[] = [];
    const make = async (): Promise<Broker> => {
      const broker = await options.create();
      brokers.push(broker);
      return broker;
    };
    afterAll(async () => {
      await Promise.all(brokers.map((b) => b.close()));
    });
    const message = (body: string, metadata: Record<string, string> = {}): Omit<BrokerMessage, 'topic'> => ({
      contentType: 'text/plain',
      metadata,
      body: bytes(body),
    });

    it('broadcasts each message to every plain subscriber, with metadata', async () => {
      const [pub, a, b] = [await make(), await make(), await make()];
      const topic = unique('broadcast');
      const got: string[] = [];
      await a.subscribe(topic, (m) => void got.push(`a:${text(m.body)}:${m.metadata.k}:${m.contentType}`));
      await b.subscribe(topic, (m) => void got.push(`b:${text(m.body)}:${m.metadata.k}:${m.contentType}`));
      await pub.publish(topic, message('x', { k: 'v' }));
      await until(() => got.length === 2);
      expect(got.sort()).toEqual(['a:x:v:text/plain', 'b:x:v:text/plain']);
    });

    it('gives each message to exactly one member of a queue group, and every group gets all', async () => {
      const [pub, a, b, c] = [await make(), await make(), await make(), await make()];
      const topic = unique('queue');
      const workers: string[] = [];
      const audit: string[] = [];
      await a.subscribe(topic, (m) => void workers.push(`a:${text(m.body)}`), { queue: 'workers' });
      await b.subscribe(topic, (m) => void workers.push(`b:${text(m.body)}`), { queue: 'workers' });
      await c.subscribe(topic, (m) => void audit.push(text(m.body)), { queue: 'audit' });
      for (let i = 0; i < 50; i++) await pub.publish(topic, message(String(i)));
      await until(() => workers.length >= 50 && audit.length >= 50);
      await new Promise((r) => setTimeout(r, 100));
      expect(workers).toHaveLength(50);
      expect(new Set(workers.map((w) => w.slice(2))).size).toBe(50);
      expect(workers.some((w) => w.startsWith('a:'))).toBe(true);
      expect(workers.some((w) => w.startsWith('b:'))).toBe(true);
      expect(audit.sort()).toEqual(Array.from({ length: 50 }, (_, i) => String(i)).sort());
    });

    it('stops delivering after unsubscribe', async () => {
      const [pub, sub] = [await make(), await make()];
      const topic = unique('unsub');
      const got: string[] = [];
      const subscription = await sub.subscribe(topic, (m) => void got.push(text(m.body)));
      await pub.publish(topic, message('1'));
      await until(() => got.length === 1);
      await subscription.unsubscribe();
      await pub.publish(topic, message('2'));
      await new Promise((r) => setTimeout(r, 150));
      expect(got).toEqual(['1']);
    });

    it('keeps delivering when a handler throws', async () => {
      const [pub, sub] = [await make(), await make()];
      const topic = unique('throws');
      const got: string[] = [];
      await sub.subscribe(topic, (m) => {
        got.push(text(m.body));
        throw new Error('handler failure');
      });
      await pub.publish(topic, message('1'));
      await pub.publish(topic, message('2'));
      await until(() => got.length === 2);
      expect(got.sort()).toEqual(['1', '2']);
    });

    it('rejects invalid topics and queue names with invalid_argument', async () => {
      const broker = await make();
      for (const topic of ['', 'a b', 'a.*', 'a.>', 'a..b']) {
        await expect(broker.publish(topic, message('x'))).rejects.toMatchObject({ code: 'invalid_argument' });
        await expect(broker.subscribe(topic, () => undefined)).rejects.toMatchObject({
          code: 'invalid_argument',
        });
      }
      await expect(broker.subscribe('ok', () => undefined, { queue: 'bad queue' })).rejects.toMatchObject({
        code: 'invalid_argument',
      });
    });

    it('rejects an oversized message with resource_exhausted', async () => {
      const broker = await make();
      const max = options.maxMessageSize ?? 4 * 1024 * 1024;
      await expect(
        broker.publish(unique('big'), { contentType: '', metadata: {}, body: new Uint8Array(max + 1) }),
      ).rejects.toMatchObject({ code: 'resource_exhausted' });
    });
  });
}

export interface RegistrySuiteOptions {
  create: () => Promise<Registry> | Registry;
  /** Extra time a backend needs before an expired TTL is seen (ms). @default 500 */
  ttlSlack?: number;
}

export function registrySuite(name: string, options: RegistrySuiteOptions): void {
  describe(`Registry conformance: ${name}`, () => {
    let registry: Registry;
    beforeAll(async () => {
      registry = await options.create();
    });
    afterAll(async () => {
      await registry?.close();
    });
    const service = (svc: string, nodeIds: string[], version = '1.0.0'): Service => ({
      name: svc,
      version,
      metadata: { team: 'core' },
      endpoints: [{ name: 'Greeter.Hello', metadata: {} }],
      nodes: nodeIds.map((id, i) => ({
        id,
        address: `memory://${id}`,
        metadata: { zone: i % 2 === 0 ? 'a' : 'b' },
      })),
    });

    it('registers, looks up and deregisters nodes', async () => {
      const svc = unique('svc');
      await registry.register(service(svc, ['n1', 'n2']));
      const [found] = await registry.getService(svc);
      expect(found?.version).toBe('1.0.0');
      expect(found?.nodes.map((n) => n.id).sort()).toEqual(['n1', 'n2']);
      expect(found?.endpoints).toEqual([{ name: 'Greeter.Hello', metadata: {} }]);
      expect(found?.nodes.find((n) => n.id === 'n2')?.metadata).toEqual({ zone: 'b' });
      await registry.deregister(service(svc, ['n1']));
      expect((await registry.getService(svc))[0]?.nodes.map((n) => n.id)).toEqual(['n2']);
      await registry.deregister(service(svc, ['n2']));
      await expect(registry.getService(svc)).rejects.toMatchObject({ code: 'not_found' });
    });

    it('keeps versions apart', async () => {
      const svc = unique('svc');
      await registry.register(service(svc, ['a'], '1.0.0'));
      await registry.register(service(svc, ['b'], '2.0.0'));
      const versions = await registry.getService(svc);
      expect(versions.map((v) => `${v.version}:${v.nodes.map((n) => n.id).join()}`).sort()).toEqual([
        '1.0.0:a',
        '2.0.0:b',
      ]);
      await registry.deregister(service(svc, ['a'], '1.0.0'));
      await registry.deregister(service(svc, ['b'], '2.0.0'));
    });

    it('lists registered services', async () => {
      const svc = unique('svc');
      await registry.register(service(svc, ['x']));
      const all = await registry.listServices();
      expect(all.some((s) => s.name === svc)).toBe(true);
      await registry.deregister(service(svc, ['x']));
    });

    it('registering the same node again does not duplicate it', async () => {
      const svc = unique('svc');
      await registry.register(service(svc, ['n1']), { ttl: 5000 });
      await registry.register(service(svc, ['n1']), { ttl: 5000 });
      expect((await registry.getService(svc))[0]?.nodes).toHaveLength(1);
      await registry.deregister(service(svc, ['n1']));
    });

    it('expires nodes whose TTL ran out and keeps renewed ones', async () => {
      const svc = unique('svc');
      await registry.register(service(svc, ['short']), { ttl: 1000 });
      await registry.register(service(svc, ['long']), { ttl: 10_000 });
      await new Promise((r) => setTimeout(r, 1000 + (options.ttlSlack ?? 500)));
      expect((await registry.getService(svc))[0]?.nodes.map((n) => n.id)).toEqual(['long']);
      await registry.deregister(service(svc, ['long']));
    });

    it('watch reports create and delete events for a service', async () => {
      const svc = unique('svc');
      const controller = new AbortController();
      const events: RegistryEvent[] = [];
      const done = (async () => {
        for await (const event of registry.watch({ service: svc, signal: controller.signal }))
          events.push(event);
      })();
      await new Promise((r) => setTimeout(r, 200));
      await registry.register(service(svc, ['w1']));
      await until(() => events.some((e) => e.type === 'create'));
      await registry.deregister(service(svc, ['w1']));
      await until(() => events.some((e) => e.type === 'delete'));
      controller.abort();
      await done;
      const create = events.find((e) => e.type === 'create');
      expect(create?.service.name).toBe(svc);
      expect(create?.service.nodes.map((n) => n.id)).toEqual(['w1']);
      expect(events.find((e) => e.type === 'delete')?.service.nodes.map((n) => n.id)).toEqual(['w1']);
    });

    it('watch reports expiry as a delete event', async () => {
      const svc = unique('svc');
      const controller = new AbortController();
      const events: RegistryEvent[] = [];
      const done = (async () => {
        for await (const event of registry.watch({ service: svc, signal: controller.signal }))
          events.push(event);
      })();
      await new Promise((r) => setTimeout(r, 200));
      await registry.register(service(svc, ['e1']), { ttl: 1000 });
      await until(() => events.some((e) => e.type === 'delete'), 4000 + (options.ttlSlack ?? 500));
      controller.abort();
      await done;
      expect(events.find((e) => e.type === 'delete')?.service.nodes.map((n) => n.id)).toEqual(['e1']);
    });

    it('rejects bad input with invalid_argument', async () => {
      await expect(registry.register(service('bad name', ['n']))).rejects.toMatchObject({
        code: 'invalid_argument',
      });
      await expect(
        registry.register({ ...service(unique('svc'), []), nodes: [{ id: '', address: 'x', metadata: {} }] }),
      ).rejects.toMatchObject({
        code: 'invalid_argument',
      });
      await expect(registry.register(service(unique('svc'), ['n']), { ttl: 0 })).rejects.toMatchObject({
        code: 'invalid_argument',
      });
      await expect(registry.getService('a b')).rejects.toMatchObject({ code: 'invalid_argument' });
    });
  });
}
