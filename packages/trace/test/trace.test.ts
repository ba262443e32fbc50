import { randomUUID } from 'node:crypto';
import { createService, MicroError, memoryBroker, memoryRegistry } from '@micro-os/core';
import { traceWrappers } from '@micro-os/trace';
import { formatTraceTree } from '@micro-os/trace/sdk';
import { type MemoryTracing, memoryTracing } from '@micro-os/trace/testing';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type TwoServices, twoServices } from './two-services.js';

const byName = (spans: ReadableSpan[], name: string): ReadableSpan => {
  const found = spans.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no span ${name} in ${spans.map((s) => s.name).join(', ')}`);
  return found;
};
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan): string => span.spanContext().spanId;

describe('tracing across two services over the memory transport', () => {
  let tracing: MemoryTracing;
  let services: TwoServices;
  beforeAll(async () => {
    tracing = memoryTracing({ serviceName: 'trace-test' });
    services = await twoServices();
  });
  afterAll(async () => {
    await services?.stop();
    await tracing?.shutdown();
  });
  beforeEach(() => tracing.reset());

  it('gives every span of one request the same trace id, each a child of the one before', async () => {
    const { front, frontName, backName } = services;
    await expect(front.call(frontName, 'Front.Call', { n: 1 })).resolves.toEqual({ n: 2 });
    const spans = tracing.spans();
    expect(spans).toHaveLength(4);
    const outer = byName(spans, `${frontName}/Front.Call`);
    const frontServer = spans.find((s) => s.name === `${frontName}/Front.Call` && s.kind === SpanKind.SERVER);
    const outerClient = spans.find((s) => s.name === `${frontName}/Front.Call` && s.kind === SpanKind.CLIENT);
    const innerClient = spans.find((s) => s.name === `${backName}/Back.Call` && s.kind === SpanKind.CLIENT);
    const backServer = spans.find((s) => s.name === `${backName}/Back.Call` && s.kind === SpanKind.SERVER);
    expect(outer).toBeDefined();
    if (!frontServer || !outerClient || !innerClient || !backServer) throw new Error('missing span kinds');
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(parentOf(outerClient)).toBeUndefined();
    expect(parentOf(frontServer)).toBe(idOf(outerClient));
    expect(parentOf(innerClient)).toBe(idOf(frontServer));
    expect(parentOf(backServer)).toBe(idOf(innerClient));
    expect(formatTraceTree(spans).split('\n')).toHaveLength(5);
  });

  it('names and attributes spans by the RPC semantic conventions', async () => {
    const { front, backName } = services;
    await front.call(backName, 'Back.Call', { n: 1 });
    const [server, client] = tracing.spans();
    expect(client?.kind).toBe(SpanKind.CLIENT);
    expect(server?.kind).toBe(SpanKind.SERVER);
    for (const span of [client, server]) {
      expect(span?.name).toBe(`${backName}/Back.Call`);
      expect(span?.attributes).toMatchObject({
        'rpc.system': 'micro-os',
        'rpc.service': backName,
        'rpc.method': 'Back.Call',
      });
      expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    }
  });

  it('sends W3C traceparent in lower-case metadata keys', async () => {
    const { front, backName, seen } = services;
    await front.call(backName, 'Back.Call', { n: 1 });
    const client = tracing.spans().find((s) => s.kind === SpanKind.CLIENT);
    const traceparent = seen.at(-1)?.traceparent;
    expect(traceparent).toBe(`00-${client?.spanContext().traceId}-${client?.spanContext().spanId}-01`);
  });

  it('sets status ERROR and error.type to the MicroError code on the client and server spans', async () => {
    const { front, frontName, backName } = services;
    await expect(front.call(frontName, 'Front.Fail', {})).rejects.toMatchObject({ code: 'not_found' });
    const spans = tracing.spans();
    expect(spans).toHaveLength(4);
    for (const span of spans) {
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type']).toBe('not_found');
      expect(span.status.message).toContain('no such thing');
    }
    const backServer = spans.find((s) => s.name === `${backName}/Back.Fail` && s.kind === SpanKind.SERVER);
    expect(backServer?.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('joins the span active in user code and restores the context after the call', async () => {
    const { front, backName } = services;
    const tracer = trace.getTracer('user-code');
    const userSpan = tracer.startSpan('user work');
    const userContext = trace.setSpan(context.active(), userSpan);
    await context.with(userContext, async () => {
      await front.call(backName, 'Back.Call', { n: 1 });
      expect(trace.getActiveSpan()).toBe(userSpan);
    });
    userSpan.end();
    const client = tracing.spans().find((s) => s.kind === SpanKind.CLIENT);
    expect(client?.spanContext().traceId).toBe(userSpan.spanContext().traceId);
    expect(parentOf(client as ReadableSpan)).toBe(userSpan.spanContext().spanId);
  });

  it('makes the server span active in the handler, so spans of user code are its children', async () => {
    const registry = memoryRegistry();
    const name = `inner-${randomUUID().slice(0, 8)}`;
    const svc = createService({ name, registry, ...traceWrappers() });
    svc.handle('Inner.Work', () => {
      const span = trace.getTracer('user-code').startSpan('handler work');
      span.end();
      return 'ok';
    });
    await svc.start();
    try {
      await svc.call(name, 'Inner.Work', {});
    } finally {
      await svc.stop();
    }
    const spans = tracing.spans();
    const server = spans.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
    expect(parentOf(byName(spans, 'handler work'))).toBe(idOf(server));
  });

  it('links a consumer span to the producer span of the message it handles', async () => {
    const registry = memoryRegistry();
    const broker = memoryBroker();
    const topic = `orders.${randomUUID().slice(0, 8)}`;
    const publisher = createService({ name: 'publisher', registry, broker, ...traceWrappers() });
    const consumer = createService({ name: 'consumer', registry, broker, ...traceWrappers() });
    const received: Promise<void> = new Promise((resolve) => {
      consumer.subscribe(topic, async () => resolve());
    });
    await consumer.start();
    try {
      await publisher.publish(topic, { id: 1 });
      await received;
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      await consumer.stop();
    }
    const spans = tracing.spans();
    const producer = byName(spans, `publish ${topic}`);
    const process = byName(spans, `process ${topic}`);
    expect(producer.kind).toBe(SpanKind.PRODUCER);
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(parentOf(process)).toBe(idOf(producer));
    expect(producer.attributes).toMatchObject({
      'messaging.system': 'micro-os',
      'messaging.destination.name': topic,
      'messaging.operation.name': 'publish',
      'messaging.operation.type': 'send',
    });
    expect(process.attributes).toMatchObject({
      'messaging.destination.name': topic,
      'messaging.operation.name': 'process',
    });
  });

  it('records a failing subscriber on its consumer span', async () => {
    const registry = memoryRegistry();
    const broker = memoryBroker({ onError: () => undefined });
    const topic = `fail.${randomUUID().slice(0, 8)}`;
    const errors: unknown[] = [];
    const svc = createService({
      name: 'failing',
      registry,
      broker,
      onError: (e) => errors.push(e),
      ...traceWrappers(),
    });
    svc.subscribe(topic, async () => {
      throw new MicroError('failed_precondition', 'cannot take it');
    });
    await svc.start();
    try {
      await svc.publish(topic, {});
      await expect.poll(() => errors.length).toBe(1);
    } finally {
      await svc.stop();
    }
    const process = byName(tracing.spans(), `process ${topic}`);
    expect(process.status.code).toBe(SpanStatusCode.ERROR);
    expect(process.attributes['error.type']).toBe('failed_precondition');
  });
});
