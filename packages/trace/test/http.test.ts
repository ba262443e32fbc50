import { httpTransport } from '@micro-os/core/http';
import { type MemoryTracing, memoryTracing } from '@micro-os/trace/testing';
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TwoServices, twoServices } from './two-services.js';

describe('tracing across two services over the HTTP transport', () => {
  let tracing: MemoryTracing;
  let services: TwoServices;
  beforeAll(async () => {
    tracing = memoryTracing({ serviceName: 'trace-http-test' });
    services = await twoServices(() => httpTransport());
  });
  afterAll(async () => {
    await services?.stop();
    await tracing?.shutdown();
  });

  it('carries the trace through HTTP: one trace id, server spans children of client spans', async () => {
    const { front, frontName, backName } = services;
    await front.call(frontName, 'Front.Call', { n: 1 });
    const spans = tracing.spans();
    expect(spans).toHaveLength(4);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
    const find = (name: string, kind: SpanKind) => spans.find((s) => s.name === name && s.kind === kind);
    const backServer = find(`${backName}/Back.Call`, SpanKind.SERVER);
    const backClient = find(`${backName}/Back.Call`, SpanKind.CLIENT);
    const frontServer = find(`${frontName}/Front.Call`, SpanKind.SERVER);
    expect(backServer?.parentSpanContext?.spanId).toBe(backClient?.spanContext().spanId);
    expect(backClient?.parentSpanContext?.spanId).toBe(frontServer?.spanContext().spanId);
    expect(backServer?.parentSpanContext?.isRemote).toBe(true);
  });
});
