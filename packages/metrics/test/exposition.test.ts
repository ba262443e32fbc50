import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics, metricsHttpHandler, pushgateway, serveMetrics } from '@micro-os/metrics';
import { parseExposition } from '@micro-os/metrics/testing';
import { describe, expect, it } from 'vitest';

const get = (url: string, method = 'GET') =>
  new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });

describe('exposition over HTTP', () => {
  it('serves the metrics through metricsHttpHandler on a node:http server of your own', async () => {
    const metrics = createMetrics();
    metrics.counter('served_total').inc(3);
    const server = createServer(metricsHttpHandler(metrics));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const res = await get(`http://127.0.0.1:${port}/anything`);
      expect(res.status).toBe(200);
      expect(res.type).toBe(metrics.contentType);
      const samples = parseExposition(res.body);
      expect(samples.find((s) => s.name === 'served_total')?.value).toBe(3);
      expect(samples.some((s) => s.name === 'process_cpu_seconds_total')).toBe(true);
      expect((await get(`http://127.0.0.1:${port}/`, 'POST')).status).toBe(405);
      expect((await get(`http://127.0.0.1:${port}/`, 'HEAD')).body).toBe('');
    } finally {
      server.close();
      await metrics.close();
    }
  });

  it('runs a standalone /metrics server that answers 404 elsewhere and closes idempotently', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.gauge('up_gauge').set(1);
    const server = await serveMetrics(metrics, { port: 0 });
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
    const res = await get(server.url);
    expect(res.status).toBe(200);
    expect(parseExposition(res.body)).toEqual([{ name: 'up_gauge', labels: {}, value: 1 }]);
    expect((await get(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
    await server.close();
    await server.close();
    await expect(get(server.url)).rejects.toThrow();
  });

  it('rejects bad server options with invalid_argument and a taken port with unavailable', async () => {
    const metrics = createMetrics({ processMetrics: false });
    await expect(serveMetrics(metrics, { port: 70000 })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(serveMetrics(metrics, { path: 'metrics' })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    const first = await serveMetrics(metrics, { port: 0 });
    await expect(serveMetrics(metrics, { port: first.port })).rejects.toMatchObject({ code: 'unavailable' });
    await first.close();
  });
});

describe('Pushgateway', () => {
  it('pushes with PUT, adds with POST and deletes the job group', async () => {
    const received: { method: string; url: string; body: string }[] = [];
    const gateway = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', body });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const { port } = gateway.address() as AddressInfo;
    const metrics = createMetrics({ processMetrics: false });
    metrics.counter('batch_items_total').inc(42);
    const pusher = pushgateway(metrics, {
      url: `http://127.0.0.1:${port}`,
      jobName: 'nightly',
      groupings: { instance: 'a' },
    });
    try {
      await pusher.push();
      await pusher.pushAdd();
      await pusher.delete();
    } finally {
      gateway.close();
    }
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual([
      'PUT /metrics/job/nightly/instance/a',
      'POST /metrics/job/nightly/instance/a',
      'DELETE /metrics/job/nightly/instance/a',
    ]);
    expect(parseExposition(received[0]?.body ?? '')).toEqual([
      { name: 'batch_items_total', labels: {}, value: 42 },
    ]);
  });

  it('answers unavailable when the gateway cannot be reached or refuses, invalid_argument for bad options', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const probe = createServer((_req, res) => res.writeHead(400).end('bad push'));
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    try {
      await expect(
        pushgateway(metrics, { url: `http://127.0.0.1:${port}`, jobName: 'j' }).push(),
      ).rejects.toMatchObject({
        code: 'unavailable',
        message: expect.stringContaining('400'),
      });
    } finally {
      await new Promise((r) => probe.close(r));
    }
    await expect(
      pushgateway(metrics, { url: `http://127.0.0.1:${port}`, jobName: 'j' }).push(),
    ).rejects.toMatchObject({
      code: 'unavailable',
    });
    expect(() => pushgateway(metrics, { url: 'not a url', jobName: 'j' })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    expect(() => pushgateway(metrics, { url: 'http://x', jobName: '' })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });
});
