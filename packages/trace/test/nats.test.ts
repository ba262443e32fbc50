import { natsBroker, natsTransport } from '@micro-os/core/nats';
import { requireServer, testServers } from '@micro-os/core/testing';
import { type MemoryTracing, memoryTracing } from '@micro-os/trace/testing';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TwoServices, twoServices } from './two-services.js';

describe('tracing across two services over NATS', () => {
  let tracing: MemoryTracing;
  let services: TwoServices;
  beforeAll(async () => {
    await requireServer('nats');
    tracing = memoryTracing({ serviceName: 'trace-nats-test' });
    services = await twoServices(
      () => natsTransport({ servers: testServers.nats }),
      natsBroker({ servers: testServers.nats }),
    );
  });
  afterAll(async () => {
    await services?.stop();
    await tracing?.shutdown();
  });

  it('has one trace id for a call chain, each server span a remote child of its client span', async () => {
    tracing.reset();
    const { front, frontName, backName } = services;
    await expect(front.call(frontName, 'Front.Call', { n: 1 })).resolves.toEqual({ n: 2 });
    const spans = tracing.spans();
    expect(spans).toHaveLength(4);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const find = (name: string, kind: SpanKind) => spans.find((s) => s.name === name && s.kind === kind);
    const outerClient = find(`${frontName}/Front.Call`, SpanKind.CLIENT);
    const frontServer = find(`${frontName}/Front.Call`, SpanKind.SERVER);
    const backClient = find(`${backName}/Back.Call`, SpanKind.CLIENT);
    const backServer = find(`${backName}/Back.Call`, SpanKind.SERVER);
    expect(frontServer?.parentSpanContext?.spanId).toBe(outerClient?.spanContext().spanId);
    expect(backClient?.parentSpanContext?.spanId).toBe(frontServer?.spanContext().spanId);
    expect(backServer?.parentSpanContext?.spanId).toBe(backClient?.spanContext().spanId);
    expect(backServer?.parentSpanContext?.isRemote).toBe(true);
  });

  it('links the consumer span to the producer span through a NATS message', async () => {
    tracing.reset();
    const { front, topic, events } = services;
    await front.publish(topic, { id: 1 });
    await expect.poll(() => events.length).toBe(1);
    await expect.poll(() => tracing.spans().length).toBe(2);
    const producer = tracing.spans().find((s) => s.kind === SpanKind.PRODUCER);
    const consumer = tracing.spans().find((s) => s.kind === SpanKind.CONSUMER);
    expect(producer?.name).toBe(`publish ${topic}`);
    expect(consumer?.name).toBe(`process ${topic}`);
    expect(consumer?.spanContext().traceId).toBe(producer?.spanContext().traceId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
  });
});
