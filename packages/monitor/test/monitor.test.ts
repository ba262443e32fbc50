import { randomUUID } from 'node:crypto';
import { createService, MicroError, memoryBroker, memoryRegistry } from '@micro-os/core';
import {
  createMonitor,
  gracefulShutdown,
  type HealthReport,
  type Monitor,
  type MonitorServer,
  type MonitorStats,
  monitorClient,
  monitorHandler,
  serveMonitor,
} from '@micro-os/monitor';
import { manualCheck } from '@micro-os/monitor/testing';
import { afterEach, describe, expect, it } from 'vitest';

const get = async (url: string, method = 'GET') => {
  const res = await fetch(url, { method });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
};

describe('health checks over HTTP', () => {
  let monitor: Monitor;
  let server: MonitorServer;
  afterEach(async () => {
    await server?.close();
    await monitor?.close();
  });

  it('answers 200 pass when every check passes, 200 warn when a non-critical one fails, 503 fail for a critical one', async () => {
    monitor = createMonitor({ service: 'orders' });
    const db = manualCheck({ id: 'db', description: 'postgres', critical: true });
    const cache = manualCheck({ id: 'cache', critical: false });
    monitor.register(db);
    monitor.register(cache);
    server = await serveMonitor(monitor, { port: 0 });
    await monitor.checkNow();
    let res = await get(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/health+json');
    expect(res.body).toMatchObject({ status: 'pass', service: 'orders', ready: true });

    cache.fail('cache down');
    await monitor.checkNow();
    res = await get(`${server.url}/health`);
    expect(res.status).toBe(200);
    expect(res.body?.status).toBe('warn');
    expect((await get(`${server.url}/ready`)).status).toBe(200);

    db.fail('connection refused');
    await monitor.checkNow();
    res = await get(`${server.url}/health`);
    expect(res.status).toBe(503);
    const report = res.body as unknown as HealthReport;
    expect(report.status).toBe('fail');
    expect(report.checks.find((c) => c.id === 'db')).toMatchObject({
      status: 'fail',
      critical: true,
      description: 'postgres',
      error: 'connection refused',
      code: 'unavailable',
      consecutiveFailures: 1,
    });
    const ready = await get(`${server.url}/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body?.reasons).toEqual(['check db failing: connection refused']);
    expect((await get(`${server.url}/live`)).status).toBe(200);
  });

  it('answers 404 for other paths, 405 for other methods and no body to HEAD', async () => {
    monitor = createMonitor();
    server = await serveMonitor(monitor, { port: 0 });
    expect((await get(`${server.url}/nope`)).status).toBe(404);
    expect((await get(`${server.url}/health`, 'POST')).status).toBe(405);
    const head = await get(`${server.url}/ready`, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBeUndefined();
  });

  it('serves process and call stats at /stats', async () => {
    monitor = createMonitor({ service: 'orders' });
    server = await serveMonitor(monitor, { port: 0 });
    const res = await get(`${server.url}/stats`);
    expect(res.status).toBe(200);
    const stats = res.body as unknown as MonitorStats;
    expect(stats.service).toBe('orders');
    expect(stats.process.uptime).toBeGreaterThan(0);
    expect(stats.process.memory.rss).toBeGreaterThan(0);
    expect(stats.process.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(stats.process.eventLoopUtilization).toBeGreaterThanOrEqual(0);
    expect(stats.process.eventLoopUtilization).toBeLessThanOrEqual(1);
    expect(stats.process.eventLoopDelay.p99).toBeGreaterThanOrEqual(0);
    expect(stats.inFlight).toEqual({ served: 0, made: 0 });
  });
});

describe('check runs', () => {
  it('fails a check that takes longer than its timeout with deadline_exceeded, and aborts its signal', async () => {
    await using monitor = createMonitor();
    let aborted = false;
    monitor.register({
      id: 'slow',
      timeout: 100,
      check: (signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve();
          });
        }),
    });
    const started = Date.now();
    const report = await monitor.checkNow();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(report.checks[0]).toMatchObject({ status: 'fail', code: 'deadline_exceeded' });
    expect(report.checks[0]?.error).toMatch(/longer than 100 ms/);
    expect(aborted).toBe(true);
  });

  it('runs each check every interval, keeps the last result and counts consecutive failures', async () => {
    await using monitor = createMonitor();
    const dep = manualCheck({ id: 'dep', interval: 30 });
    dep.fail('down');
    monitor.register(dep);
    await expect.poll(() => monitor.health().checks[0]?.consecutiveFailures ?? 0).toBeGreaterThanOrEqual(3);
    expect(monitor.health().status).toBe('fail');
    dep.pass();
    await expect.poll(() => monitor.health().status).toBe('pass');
    expect(monitor.health().checks[0]?.consecutiveFailures).toBe(0);
    expect(dep.runs).toBeGreaterThanOrEqual(4);
  });

  it('keeps details a check returns, and is not ready until a critical check has run', async () => {
    await using monitor = createMonitor();
    let release: () => void = () => undefined;
    monitor.register({
      id: 'warmup',
      check: () => new Promise<Record<string, unknown>>((resolve) => (release = () => resolve({ rows: 3 }))),
    });
    expect(monitor.readiness()).toEqual({ ready: false, reasons: ['check warmup not run yet'] });
    release();
    await expect.poll(() => monitor.readiness().ready).toBe(true);
    expect(monitor.health().checks[0]?.details).toEqual({ rows: 3 });
  });

  it('refuses duplicate ids with already_exists and bad checks with invalid_argument', async () => {
    await using monitor = createMonitor();
    monitor.register({ id: 'a', check: () => undefined });
    expect(() => monitor.register({ id: 'a', check: () => undefined })).toThrow(
      expect.objectContaining({ code: 'already_exists' }),
    );
    const invalid = expect.objectContaining({ code: 'invalid_argument' });
    expect(() => monitor.register({ id: '', check: () => undefined })).toThrow(invalid);
    expect(() => monitor.register({ id: 'b', check: () => undefined, timeout: 0 })).toThrow(invalid);
    expect(() => monitor.register({ id: 'c', check: () => undefined, interval: -1 })).toThrow(invalid);
    monitor.deregister('a');
    expect(monitor.health().checks).toEqual([]);
  });
});

describe('graceful shutdown', () => {
  it('turns readiness to 503 first, keeps serving for the delay, then stops the service', async () => {
    const monitor = createMonitor();
    const server = await serveMonitor(monitor, { port: 0 });
    const events: string[] = [];
    try {
      expect((await get(`${server.url}/ready`)).status).toBe(200);
      const done = gracefulShutdown({
        monitor,
        delay: 200,
        stop: async () => {
          events.push('stop');
        },
      });
      const ready = await get(`${server.url}/ready`);
      events.push(`ready ${ready.status}`);
      expect(ready.body?.reasons).toEqual(['shutting down']);
      expect((await get(`${server.url}/live`)).status).toBe(200);
      expect((await get(`${server.url}/health`)).body?.shuttingDown).toBe(true);
      await done;
      expect(events).toEqual(['ready 503', 'stop']);
    } finally {
      await server.close();
    }
  });
});

describe('call stats wrappers', () => {
  it('count requests, errors by code and in-flight calls per endpoint, served and made', async () => {
    await using monitor = createMonitor();
    const name = `mon-${randomUUID().slice(0, 8)}`;
    const svc = createService({
      name,
      registry: memoryRegistry(),
      retries: 0,
      handlerWrappers: [monitorHandler(monitor)],
      clientWrappers: [monitorClient(monitor)],
    });
    let release: () => void = () => undefined;
    svc.handle('Mon.Ok', () => 'ok');
    svc.handle('Mon.Bad', () => {
      throw new MicroError('permission_denied', 'no');
    });
    svc.handle('Mon.Slow', () => new Promise((resolve) => (release = () => resolve('done'))));
    await svc.start();
    try {
      await svc.call(name, 'Mon.Ok', {});
      await expect(svc.call(name, 'Mon.Bad', {})).rejects.toMatchObject({ code: 'permission_denied' });
      const slow = svc.call(name, 'Mon.Slow', {});
      await expect.poll(() => monitor.stats().inFlight.served).toBe(1);
      expect(monitor.stats().inFlight.made).toBe(1);
      release();
      await slow;
    } finally {
      await svc.stop();
    }
    const { served, made, inFlight } = monitor.stats();
    expect(inFlight).toEqual({ served: 0, made: 0 });
    for (const side of [served, made]) {
      const ok = side.find((e) => e.endpoint === 'Mon.Ok');
      const bad = side.find((e) => e.endpoint === 'Mon.Bad');
      expect(ok).toMatchObject({ service: name, requests: 1, errors: 0, inFlight: 0 });
      expect(bad).toMatchObject({ requests: 1, errors: 1, errorsByCode: { permission_denied: 1 } });
      expect(side.find((e) => e.endpoint === 'Mon.Slow')?.maxMs).toBeGreaterThan(0);
    }
  });
});

describe('publication', () => {
  it('publishes status and stats on broker topics every interval', async () => {
    const broker = memoryBroker();
    const suffix = randomUUID().slice(0, 8);
    const received: { topic: string; body: Record<string, unknown> }[] = [];
    for (const topic of [`status.${suffix}`, `stats.${suffix}`])
      await broker.subscribe(topic, (m) => {
        received.push({ topic: m.topic, body: JSON.parse(new TextDecoder().decode(m.body)) });
      });
    const monitor = createMonitor({
      service: 'orders',
      broker,
      statusTopic: `status.${suffix}`,
      statsTopic: `stats.${suffix}`,
      publishInterval: 40,
    });
    await expect.poll(() => received.length).toBeGreaterThanOrEqual(4);
    const status = received.find((r) => r.topic === `status.${suffix}`);
    const stats = received.find((r) => r.topic === `stats.${suffix}`);
    expect(status?.body).toMatchObject({ status: 'pass', service: 'orders', ready: true });
    expect(stats?.body).toMatchObject({ service: 'orders', inFlight: { served: 0, made: 0 } });
    await monitor.close();
    await broker.close();
  });
});
