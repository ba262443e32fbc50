import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { createService, MicroError, memoryBroker, memoryRegistry } from '@micro-os/core';
import { createMetrics, metricsClient, metricsHandler, metricsSubscriber } from '@micro-os/metrics';
import { parseExposition, type Sample } from '@micro-os/metrics/testing';
import {
  type Context,
  type ContextManager,
  context,
  ROOT_CONTEXT,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

/** The smallest AsyncLocalStorage context manager, so an active span exists without an SDK. */
class TestContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

describe('RED wrappers', () => {
  const metrics = createMetrics({ processMetrics: false });
  const registry = memoryRegistry();
  const name = `red-${randomUUID().slice(0, 8)}`;
  const svc = createService({
    name,
    registry,
    retries: 0,
    clientWrappers: [metricsClient(metrics)],
    handlerWrappers: [metricsHandler(metrics)],
  });
  let release: () => void = () => undefined;
  svc.handle('Red.Ok', () => 'ok');
  svc.handle('Red.Missing', () => {
    throw new MicroError('not_found', 'nothing here');
  });
  svc.handle('Red.Slow', () => new Promise<string>((resolve) => (release = () => resolve('slow'))));
  beforeAll(() => svc.start());
  afterAll(() => svc.stop());

  it('counts requests, errors by code and durations per service and endpoint, on both sides', async () => {
    await svc.call(name, 'Red.Ok', {});
    await svc.call(name, 'Red.Ok', {});
    await expect(svc.call(name, 'Red.Missing', {})).rejects.toMatchObject({ code: 'not_found' });
    const samples = parseExposition(await metrics.exposition());
    for (const side of ['client', 'server']) {
      const ok = { service: name, endpoint: 'Red.Ok' };
      const missing = { service: name, endpoint: 'Red.Missing' };
      expect(find(samples, `micro_${side}_requests_total`, ok)?.value).toBe(2);
      expect(find(samples, `micro_${side}_requests_total`, missing)?.value).toBe(1);
      expect(find(samples, `micro_${side}_errors_total`, { ...missing, code: 'not_found' })?.value).toBe(1);
      expect(find(samples, `micro_${side}_errors_total`, ok)).toBeUndefined();
      expect(find(samples, `micro_${side}_request_duration_seconds_count`, ok)?.value).toBe(2);
      expect(find(samples, `micro_${side}_requests_in_flight`, ok)?.value).toBe(0);
    }
  });

  it('shares the counts of two wrappers of the same side on one metrics instance', async () => {
    const shared = createMetrics({ processMetrics: false });
    const one = metricsHandler(shared);
    const two = metricsHandler(shared);
    const context = { service: 's', endpoint: 'E.P' } as Parameters<ReturnType<typeof one>>[1];
    await one(async () => 'a')({}, context);
    await two(async () => 'b')({}, context);
    const samples = parseExposition(await shared.exposition());
    expect(find(samples, 'micro_server_requests_total', { service: 's', endpoint: 'E.P' })?.value).toBe(2);
  });

  it('shows a call in flight while it runs', async () => {
    const pending = svc.call(name, 'Red.Slow', {});
    await expect
      .poll(
        async () =>
          find(parseExposition(await metrics.exposition()), 'micro_server_requests_in_flight', {
            endpoint: 'Red.Slow',
          })?.value,
      )
      .toBe(1);
    const samples = parseExposition(await metrics.exposition());
    expect(find(samples, 'micro_client_requests_in_flight', { endpoint: 'Red.Slow' })?.value).toBe(1);
    release();
    await pending;
    const after = parseExposition(await metrics.exposition());
    expect(find(after, 'micro_server_requests_in_flight', { endpoint: 'Red.Slow' })?.value).toBe(0);
  });

  it('counts messages handled by subscribers per topic', async () => {
    const subMetrics = createMetrics({ processMetrics: false });
    const broker = memoryBroker({ onError: () => undefined });
    const topic = `red.${randomUUID().slice(0, 8)}`;
    let handled = 0;
    const consumer = createService({
      name: `${name}-sub`,
      registry,
      broker,
      onError: () => undefined,
      subscriberWrappers: [metricsSubscriber(subMetrics)],
    });
    consumer.subscribe(topic, async (body: { fail: boolean }) => {
      handled++;
      if (body.fail) throw new MicroError('invalid_argument', 'bad message');
    });
    await consumer.start();
    try {
      await consumer.publish(topic, { fail: false });
      await consumer.publish(topic, { fail: true });
      await expect.poll(() => handled).toBe(2);
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      await consumer.stop();
    }
    const samples = parseExposition(await subMetrics.exposition());
    expect(find(samples, 'micro_subscriber_messages_total', { topic })?.value).toBe(2);
    expect(find(samples, 'micro_subscriber_errors_total', { topic, code: 'invalid_argument' })?.value).toBe(
      1,
    );
    expect(find(samples, 'micro_subscriber_message_duration_seconds_count', { topic })?.value).toBe(2);
  });
});

describe('exemplars', () => {
  const manager = new TestContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager);
  });
  afterAll(() => {
    context.disable();
  });

  it('attach the trace_id and span_id of the active sampled span to histogram buckets in OpenMetrics', async () => {
    const metrics = createMetrics({ processMetrics: false, exemplars: true });
    expect(metrics.contentType).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    const latency = metrics.histogram('db_seconds', { buckets: [0.1, 1] });
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const spanId = 'b7ad6b7169203331';
    const span = trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.SAMPLED });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => latency.observe(0.5));
    latency.observe(0.05);
    const text = await metrics.exposition();
    expect(text.trimEnd().endsWith('# EOF')).toBe(true);
    const samples = parseExposition(text);
    expect(find(samples, 'db_seconds_bucket', { le: '1' })?.exemplar).toEqual({
      trace_id: traceId,
      span_id: spanId,
    });
    expect(find(samples, 'db_seconds_bucket', { le: '0.1' })?.exemplar).toBeUndefined();
  });

  it('carry no exemplar for a span that is not sampled', async () => {
    const metrics = createMetrics({ processMetrics: false, exemplars: true });
    const latency = metrics.histogram('unsampled_seconds', { buckets: [1] });
    const span = trace.wrapSpanContext({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.NONE,
    });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => latency.observe(0.5));
    const samples = parseExposition(await metrics.exposition());
    expect(samples.some((s) => s.exemplar !== undefined)).toBe(false);
  });
});
