/**
 * The micro-os demo: a greeter service with two instances and a client that calls it in a loop, balanced
 * across both. In-memory by default; `--transport=http` or `--transport=nats` switches transport and broker.
 */
import { parseArgs } from 'node:util';
import {
  type Broker,
  createService,
  isMicroError,
  memoryBroker,
  memoryRegistry,
  memoryTransport,
  type Transport,
} from '@micro-os/core';

const { values } = parseArgs({
  options: {
    transport: { type: 'string', default: 'memory' },
    calls: { type: 'string', default: '20' },
  },
});
const calls = Number(values.calls);

async function plumbing(kind: string): Promise<{ transport: () => Transport; broker: () => Broker }> {
  switch (kind) {
    case 'memory':
      return { transport: () => memoryTransport(), broker: () => memoryBroker() };
    case 'http': {
      const { httpTransport } = await import('@micro-os/core/http');
      return { transport: () => httpTransport(), broker: () => memoryBroker() };
    }
    case 'nats': {
      const { natsTransport, natsBroker } = await import('@micro-os/core/nats');
      const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
      return { transport: () => natsTransport({ servers }), broker: () => natsBroker({ servers }) };
    }
    default:
      throw new Error(`unknown --transport ${kind}: use memory, http or nats`);
  }
}

const { transport, broker } = await plumbing(values.transport);
const registry = memoryRegistry();

interface HelloRequest {
  name: string;
}
interface HelloResponse {
  message: string;
  instance: string;
}

const greetings = new Map<string, number>();
const instances = ['greeter-1', 'greeter-2'].map((instance) => {
  const svc = createService({
    name: 'greeter',
    version: '1.0.0',
    registry,
    transport: transport(),
    broker: broker(),
  });
  svc.handle<HelloRequest, HelloResponse>('Greeter.Hello', ({ name }) => ({
    message: `Hello, ${name}!`,
    instance,
  }));
  svc.subscribe<{ name: string }>(
    'greeter.greeted',
    () => {
      greetings.set(instance, (greetings.get(instance) ?? 0) + 1);
    },
    { queue: 'greeters' },
  );
  return svc;
});
for (const svc of instances) await svc.start();

const client = createService({ name: 'demo-client', registry, transport: transport(), broker: broker() });
const served = new Map<string, number>();
const started = performance.now();
for (let i = 0; i < calls; i++) {
  const res = await client.call<HelloResponse>('greeter', 'Greeter.Hello', { name: `caller-${i}` });
  served.set(res.instance, (served.get(res.instance) ?? 0) + 1);
  await client.publish('greeter.greeted', { name: `caller-${i}` });
}
const elapsed = performance.now() - started;

const missing = await client.call('greeter', 'Greeter.Missing', {}).catch((err: unknown) => err);

console.log(`micro-os demo on the ${values.transport} transport`);
console.log(
  `  ${calls} calls to greeter in ${elapsed.toFixed(1)} ms (${((elapsed * 1000) / calls).toFixed(0)} µs each)`,
);
await new Promise((resolve) => setTimeout(resolve, 100));
for (const [instance, count] of [...served].sort()) {
  console.log(
    `  ${instance} answered ${count} calls and handled ${greetings.get(instance) ?? 0} greeted events (queue group)`,
  );
}
console.log(
  `  calling an unknown endpoint gives a typed error: ${isMicroError(missing) ? `${missing.code}: ${missing.message}` : String(missing)}`,
);

await client.stop();
for (const svc of instances) await svc.stop();
await registry.close();
