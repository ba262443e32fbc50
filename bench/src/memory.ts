import { createService, memoryRegistry } from '@micro-os/core';
import { ServiceBroker } from 'moleculer';
import { compare } from './harness.js';

/** core in-memory call vs Moleculer's local action call. */
export async function benchMemory(): Promise<void> {
  const registry = memoryRegistry();
  const server = createService({ name: 'bench', registry });
  server.handle<{ n: number }, { n: number }>('Bench.Echo', (req) => req);
  server.handle<{ n: number }, { n: number }>('Bench.EchoAsync', async (req) => req);
  await server.start();
  const client = createService({ name: 'bench-client', registry });

  const broker = new ServiceBroker({ logger: false, nodeID: 'bench-local' });
  broker.createService({
    name: 'bench',
    actions: {
      echo: (ctx: { params: { n: number } }) => ctx.params,
      echoAsync: async (ctx: { params: { n: number } }) => ctx.params,
    },
  });
  await broker.start();

  const payload = { n: 1 };
  const ours = () => client.call('bench', 'Bench.Echo', payload);
  const theirs = () => broker.call('bench.echo', payload);
  await compare('core memory call vs Moleculer local action, sequential', ours, theirs, {
    count: 50_000,
    concurrency: 1,
    target: 1.0,
  });
  await compare('core memory call vs Moleculer local action, 64 in flight', ours, theirs, {
    count: 100_000,
    concurrency: 64,
    target: 1.0,
  });

  await compare(
    'core memory call vs Moleculer local action, async handlers, 64 in flight',
    () => client.call('bench', 'Bench.EchoAsync', payload),
    () => broker.call('bench.echoAsync', payload),
    { count: 100_000, concurrency: 64, target: 1.0 },
  );

  await broker.stop();
  await client.stop();
  await server.stop();
}
