/** Transport, broker and registry of the demo, chosen by `--transport` and `--registry`. */
import {
  type Broker,
  invalidArgument,
  memoryBroker,
  memoryRegistry,
  memoryTransport,
  type Registry,
  type Transport,
} from '@micro-os/core';

export interface Plumbing {
  /** A new transport for one service. */
  transport(): Transport;
  /** A new broker for one service. */
  broker(): Broker;
  /** The registry every service of the demo shares. */
  registry: Registry;
  /** Closes every transport and broker handed out (services leave them open) and the registry. */
  close(): Promise<void>;
}

const natsUrl = (): string => process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const redisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function transports(kind: string): Promise<Pick<Plumbing, 'transport' | 'broker'>> {
  switch (kind) {
    case 'memory':
      return { transport: () => memoryTransport(), broker: () => memoryBroker() };
    case 'http': {
      const { httpTransport } = await import('@micro-os/core/http');
      return { transport: () => httpTransport(), broker: () => memoryBroker() };
    }
    case 'nats': {
      const { natsTransport, natsBroker } = await import('@micro-os/core/nats');
      const servers = natsUrl();
      return { transport: () => natsTransport({ servers }), broker: () => natsBroker({ servers }) };
    }
    default:
      throw invalidArgument(`unknown --transport ${JSON.stringify(kind)}: use memory, http or nats`);
  }
}

async function registryOf(kind: string): Promise<Registry> {
  switch (kind) {
    case 'memory':
      return memoryRegistry();
    case 'redis': {
      const { redisRegistry } = await import('@micro-os/discovery/redis');
      return redisRegistry({ url: redisUrl(), prefix: 'micro:demo:registry' });
    }
    case 'nats': {
      const { natsRegistry } = await import('@micro-os/discovery/nats');
      return natsRegistry({ url: natsUrl(), bucket: 'micro_demo_registry' });
    }
    default:
      throw invalidArgument(`unknown --registry ${JSON.stringify(kind)}: use memory, redis or nats`);
  }
}

export async function plumbing(options: { transport: string; registry: string }): Promise<Plumbing> {
  const made = await transports(options.transport);
  const registry = await registryOf(options.registry);
  const opened: (Transport | Broker)[] = [];
  const keep = <T extends Transport | Broker>(item: T): T => {
    opened.push(item);
    return item;
  };
  return {
    transport: () => keep(made.transport()),
    broker: () => keep(made.broker()),
    registry,
    async close() {
      await Promise.all(opened.map((item) => item.close()));
      await registry.close();
    },
  };
}
