import { randomUUID } from 'node:crypto';
import {
  type Client,
  type ClientWrapper,
  createClient,
  createServer,
  memoryBroker,
  memoryRegistry,
  memoryTransport,
  type Registry,
  type Selector,
  type Server,
} from '@micro-os/core';

export interface TestNode {
  server: Server;
  calls: number;
}

export interface Fleet {
  service: string;
  registry: Registry;
  nodes: TestNode[];
  client(selector: Selector, wrappers?: ClientWrapper[]): Client;
  close(): Promise<void>;
}

export interface NodeSpec {
  version?: string;
  metadata?: Record<string, string>;
  /** What the handler does; it sees the node's call count. */
  handle?: (node: TestNode) => unknown;
}

/** A service of in-process nodes on the memory transport, each counting its calls. */
export async function startFleet(specs: NodeSpec[]): Promise<Fleet> {
  const registry = memoryRegistry();
  const transport = memoryTransport();
  const service = `svc-${randomUUID().slice(0, 8)}`;
  const nodes: TestNode[] = [];
  const clients: Client[] = [];
  for (const spec of specs) {
    const server = createServer({
      name: service,
      version: spec.version ?? '1.0.0',
      registry,
      transport,
      broker: memoryBroker(),
      metadata: spec.metadata ?? {},
    });
    const node: TestNode = { server, calls: 0 };
    server.handle('Echo.Call', async () => {
      node.calls++;
      return spec.handle === undefined ? { id: server.id } : spec.handle(node);
    });
    await server.start();
    nodes.push(node);
  }
  return {
    service,
    registry,
    nodes,
    client(selector, wrappers = []) {
      const client = createClient({ registry, transport, selector, retries: 0, wrappers });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all(nodes.map((n) => n.server.stop()));
      await registry.close();
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
