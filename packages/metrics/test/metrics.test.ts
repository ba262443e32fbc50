import { createMetrics } from '@micro-os/metrics';
import { parseExposition, type Sample } from '@micro-os/metrics/testing';
import { Histogram as PromHistogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

const find = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('metrics', () => {
  it('exposes counters, gauges and histograms with labels as valid Prometheus text', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const orders = metrics.counter('orders_total', { help: 'Orders taken', labels: ['region', 'kind'] });
    orders.withLabels({ region: 'eu' }).withLabels({ kind: 'online' }).inc();
    orders.withLabels({ region: 'eu', kind: 'online' }).inc(2);
    orders.withLabels({ region: 'us', kind: 'shop' }).inc();
    const queue = metrics.gauge('queue_depth', { labels: ['queue'] });
    queue.withLabels({ queue: 'mail' }).set(7);
    queue.withLabels({ queue: 'mail' }).dec(2);
    const latency = metrics.histogram('latency_seconds', { buckets: [0.1, 1], labels: ['route'] });
    latency.withLabels({ route: '/a' }).observe(0.05);
    latency.withLabels({ route: '/a' }).observe(0.5);
    const text = await metrics.exposition();
    expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(text);
    expect(text).toContain('# HELP orders_total Orders taken');
    expect(text).toContain('# TYPE latency_seconds histogram');
    expect(find(samples, 'orders_total', { region: 'eu', kind: 'online' })?.value).toBe(3);
    expect(find(samples, 'orders_total', { region: 'us' })?.value).toBe(1);
    expect(find(samples, 'queue_depth', { queue: 'mail' })?.value).toBe(5);
    expect(find(samples, 'latency_seconds_bucket', { route: '/a', le: '0.1' })?.value).toBe(1);
    expect(find(samples, 'latency_seconds_bucket', { route: '/a', le: '+Inf' })?.value).toBe(2);
    expect(find(samples, 'latency_seconds_count', { route: '/a' })?.value).toBe(2);
    await metrics.close();
  });

  it("histograms print the samples prom-client's own Histogram prints for the same observations", async () => {
    const metrics = createMetrics({ processMetrics: false, defaultLabels: { app: 'shop' } });
    const ours = metrics.histogram('work_seconds', {
      help: 'Work',
      labels: ['route'],
      buckets: [1, 0.1, 5, 1],
    });
    const registry = new Registry();
    registry.setDefaultLabels({ app: 'shop' });
    const theirs = new PromHistogram({
      name: 'work_seconds',
      help: 'Work',
      labelNames: ['route'],
      buckets: [0.1, 1, 5],
      registers: [registry],
    });
    const values = [0, 0.1, 0.10001, 0.7, 1, 4.99, 5, 7, 1e9, -3];
    for (const [i, value] of values.entries()) {
      const route = i % 3 === 0 ? '/a' : '/b';
      ours.withLabels({ route }).observe(value);
      theirs.observe({ route }, value);
    }
    const sorted = (text: string): Sample[] =>
      parseExposition(text).sort((a, b) =>
        `${a.name}${JSON.stringify(Object.entries(a.labels).sort())}`.localeCompare(
          `${b.name}${JSON.stringify(Object.entries(b.labels).sort())}`,
        ),
      );
    const text = await metrics.exposition();
    expect(text).toContain('# HELP work_seconds Work\n# TYPE work_seconds histogram');
    expect(sorted(text)).toEqual(sorted(await registry.metrics()));
    expect(sorted(text)).toHaveLength(2 * (3 + 1 + 2));
    await metrics.close();
  });

  it('returns the same metric for the same name and refuses a different kind or label set', () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics
      .counter('hits_total', { labels: ['page'] })
      .withLabels({ page: 'a' })
      .inc();
    expect(() => metrics.counter('hits_total')).not.toThrow();
    expect(() => metrics.gauge('hits_total')).toThrow(expect.objectContaining({ code: 'already_exists' }));
    expect(() => metrics.counter('hits_total', { labels: ['other'] })).toThrow(
      expect.objectContaining({ code: 'already_exists' }),
    );
  });

  it('answers invalid_argument for bad metric names, label names and label values', () => {
    const metrics = createMetrics({ processMetrics: false, maxLabelValueLength: 8 });
    const invalid = expect.objectContaining({ code: 'invalid_argument' });
    for (const name of ['', '1abc', 'with-dash', 'spa ce', 'é'])
      expect(() => metrics.counter(name)).toThrow(invalid);
    for (const label of ['1x', 'le', '__reserved', 'a-b', ''])
      expect(() => metrics.counter(`c_${Math.random().toString(36).slice(2)}`, { labels: [label] })).toThrow(
        invalid,
      );
    const c = metrics.counter('ok_total', { labels: ['a'] });
    expect(() => c.withLabels({ b: 'x' })).toThrow(/not declared for metric ok_total/);
    expect(() => c.withLabels({ a: 'way too long value' })).toThrow(invalid);
    expect(() => c.withLabels({ a: '\uD800' })).toThrow(invalid);
    expect(() => c.withLabels({ a: { no: 1 } as unknown as string })).toThrow(invalid);
    expect(() => c.withLabels({ a: Number.NaN })).toThrow(invalid);
    expect(() => c.inc(-1)).toThrow(invalid);
    expect(() => metrics.gauge('g').set(Number.POSITIVE_INFINITY)).toThrow(invalid);
    expect(() => metrics.histogram('h', { buckets: [] })).toThrow(invalid);
    expect(() => createMetrics({ maxSeries: 0 })).toThrow(invalid);
    expect(c.withLabels({ a: 42 })).toBeDefined();
  });

  it('drops label sets past maxSeries with one clear warning, keeping the series it has', async () => {
    const warnings: string[] = [];
    const metrics = createMetrics({
      processMetrics: false,
      maxSeries: 3,
      onWarning: (m) => warnings.push(m),
    });
    const requests = metrics.counter('by_user_total', { labels: ['user'] });
    for (let i = 0; i < 10; i++) requests.withLabels({ user: `u${i}` }).inc();
    requests.withLabels({ user: 'u0' }).inc();
    const samples = parseExposition(await metrics.exposition()).filter((s) => s.name === 'by_user_total');
    expect(samples.map((s) => s.labels.user).sort()).toEqual(['u0', 'u1', 'u2']);
    expect(find(samples, 'by_user_total', { user: 'u0' })?.value).toBe(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/by_user_total reached its limit of 3 series/);
  });

  it('collects the default process metrics unless told not to', async () => {
    const metrics = createMetrics();
    const names = new Set(parseExposition(await metrics.exposition()).map((s) => s.name));
    expect(names).toContain('process_cpu_user_seconds_total');
    expect(names).toContain('process_resident_memory_bytes');
    expect(names).toContain('nodejs_eventloop_lag_seconds');
    await metrics.close();
    expect(await createMetrics({ processMetrics: false }).exposition()).toBe('\n');
  });

  it('times with startTimer', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const stop = metrics.histogram('work_seconds').startTimer();
    await new Promise((r) => setTimeout(r, 20));
    expect(stop()).toBeGreaterThanOrEqual(0.015);
    expect(find(parseExposition(await metrics.exposition()), 'work_seconds_count')?.value).toBe(1);
  });
});
