import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createService, memoryRegistry } from '@micro-os/core';
import { httpTransport } from '@micro-os/core/http';
import { compare } from './harness.js';

/** The baseline: raw node:http, a keep-alive Agent, JSON both ways. */
async function rawHttp(): Promise<{
  call: (value: unknown) => Promise<unknown>;
  close: () => Promise<void>;
}> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  return {
    call: (value) =>
      new Promise((resolve, reject) => {
        const body = JSON.stringify(value);
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: '/',
            agent,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
    close: async () => {
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** core over HTTP vs raw node:http with a keep-alive Agent. */
export async function benchHttp(): Promise<void> {
  const registry = memoryRegistry();
  const server = createService({ name: 'bench', registry, transport: httpTransport() });
  server.handle<{ n: number }, { n: number }>('Bench.Echo', (req) => req);
  await server.start();
  const client = createService({ name: 'bench-client', registry, transport: httpTransport() });
  const payload = { n: 1 };
  const ours = () => client.call('bench', 'Bench.Echo', payload);
  const raw = await rawHttp();
  const baseline = () => raw.call(payload);
  await compare('core over HTTP vs raw node:http keep-alive, sequential', ours, baseline, {
    count: 5000,
    concurrency: 1,
    target: 0.85,
  });
  await compare('core over HTTP vs raw node:http keep-alive, 64 in flight', ours, baseline, {
    count: 20_000,
    concurrency: 64,
    target: 0.85,
  });
  await raw.close();
  await client.stop();
  await server.stop();
  await client.transport.close();
  await server.transport.close();
}
