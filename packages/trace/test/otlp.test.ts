import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createService, memoryRegistry } from '@micro-os/core';
import { traceWrappers } from '@micro-os/trace';
import { setupTracing } from '@micro-os/trace/sdk';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { describe, expect, it } from 'vitest';

describe('setupTracing', () => {
  it('exports batched spans over OTLP/HTTP with the service name as a resource attribute', async () => {
    const bodies: string[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        bodies.push(`${req.url} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    const tracing = setupTracing({
      serviceName: 'otlp-test',
      serviceVersion: '1.2.3',
      exporter: new OTLPTraceExporter({ url: `http://127.0.0.1:${port}/v1/traces` }),
      detectResources: false,
    });
    const name = `otlp-${randomUUID().slice(0, 8)}`;
    const svc = createService({ name, registry: memoryRegistry(), ...traceWrappers() });
    svc.handle('Otlp.Call', () => 'ok');
    await svc.start();
    try {
      await svc.call(name, 'Otlp.Call', {});
      expect(bodies).toHaveLength(0);
      await tracing.forceFlush();
      expect(bodies).toHaveLength(1);
      expect(bodies[0]).toMatch(/^\/v1\/traces /);
      expect(bodies[0]).toContain('otlp-test');
      expect(bodies[0]).toContain('1.2.3');
      expect(bodies[0]).toContain(`${name}/Otlp.Call`);
    } finally {
      await svc.stop();
      await tracing.shutdown();
      collector.close();
    }
  });

  it('refuses a second setup while one is running, and allows one after shutdown', async () => {
    const first = setupTracing({ serviceName: 'one', processor: 'simple', detectResources: false });
    expect(() => setupTracing({ serviceName: 'two' })).toThrow(/already set up/);
    await first.shutdown();
    await first.shutdown();
    const second = setupTracing({ serviceName: 'two', processor: 'simple', detectResources: false });
    await second.shutdown();
  });

  it('rejects bad options with invalid_argument', () => {
    expect(() => setupTracing({ serviceName: '' })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
    expect(() => setupTracing({ serviceName: 'x', processor: 'eager' as 'batch' })).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });
});
