import type { Backoff } from './backoff.js';
import type { Broker } from './broker.js';
import { type Client, type ClientWrapper, createClient, type PublishWrapper } from './client.js';
import type { Codec } from './codec.js';
import { memoryBroker } from './memory-broker.js';
import { memoryRegistry } from './memory-registry.js';
import { memoryTransport } from './memory-transport.js';
import type { Registry } from './registry.js';
import type { Selector } from './selector.js';
import { createServer, type HandlerWrapper, type Server, type SubscriberWrapper } from './server.js';
import type { Transport } from './transport.js';

export interface ServiceOptions {
  name: string;
  /** @default 'latest' */
  version?: string;
  /** @default the process-wide memory registry */
  registry?: Registry;
  /** @default memoryTransport() */
  transport?: Transport;
  /** @default memoryBroker() */
  broker?: Broker;
  selector?: Selector;
  codecs?: readonly Codec[];
  metadata?: Record<string, string>;
  clientWrappers?: readonly ClientWrapper[];
  publishWrappers?: readonly PublishWrapper[];
  handlerWrappers?: readonly HandlerWrapper[];
  subscriberWrappers?: readonly SubscriberWrapper[];
  /** @default 30000 */
  registerTtl?: number;
  /** @default 5000 */
  gracePeriod?: number;
  /** Client default timeout, ms. @default 5000 */
  timeout?: number;
  /** Client default retries. @default 2 */
  retries?: number;
  backoff?: Backoff;
  address?: string;
  onError?: (error: unknown) => void;
}

/** A service: a server for its own endpoints and a client for everyone else's, wired on shared plumbing. */
export interface MicroService {
  readonly name: string;
  readonly server: Server;
  readonly client: Client;
  readonly registry: Registry;
  readonly transport: Transport;
  readonly broker: Broker;
  handle: Server['handle'];
  subscribe: Server['subscribe'];
  call: Client['call'];
  publish: Client['publish'];
  start(): Promise<void>;
  /** Stops the server gracefully and releases the client. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

let sharedRegistry: Registry | undefined;

/** The registry every service in this process uses when none is given. */
export function defaultRegistry(): Registry {
  sharedRegistry ??= memoryRegistry();
  return sharedRegistry;
}

/** Wires registry, selector, transport, broker, codecs and wrappers, with in-memory defaults. */
export function createService(options: ServiceOptions): MicroService {
  const registry = options.registry ?? defaultRegistry();
  const transport = options.transport ?? memoryTransport();
  const broker = options.broker ?? memoryBroker();
  const server = createServer({
    name: options.name,
    version: options.version,
    registry,
    transport,
    broker,
    codecs: options.codecs,
    metadata: options.metadata,
    wrappers: options.handlerWrappers,
    subscriberWrappers: options.subscriberWrappers,
    registerTtl: options.registerTtl,
    gracePeriod: options.gracePeriod,
    address: options.address,
    onError: options.onError,
  });
  const client = createClient({
    registry,
    transport,
    broker,
    selector: options.selector,
    codecs: options.codecs,
    wrappers: options.clientWrappers,
    publishWrappers: options.publishWrappers,
    timeout: options.timeout,
    retries: options.retries,
    backoff: options.backoff,
  });
  return {
    name: server.name,
    server,
    client,
    registry,
    transport,
    broker,
    handle: server.handle.bind(server),
    subscribe: server.subscribe.bind(server),
    call: client.call.bind(client),
    publish: client.publish.bind(client),
    start: () => server.start(),
    async stop() {
      await server.stop();
      await client.close();
    },
    async [Symbol.asyncDispose]() {
      await this.stop();
    },
  };
}
