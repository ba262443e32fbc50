/** A running instance of a service. */
export interface Node {
  id: string;
  /** Transport address, e.g. `http://127.0.0.1:4100` or `nats:micro.rpc.<id>`. */
  address: string;
  metadata: Record<string, string>;
}

export interface Endpoint {
  name: string;
  metadata: Record<string, string>;
}

/** A service at one version, with the nodes that serve it. */
export interface Service {
  name: string;
  version: string;
  metadata: Record<string, string>;
  endpoints: Endpoint[];
  nodes: Node[];
}

export interface RegisterOptions {
  /** Milliseconds after which the nodes disappear unless registered again. @default no expiry */
  ttl?: number;
}

export type RegistryEventType = 'create' | 'update' | 'delete';

/** A change in the registry: a node appeared, was re-registered with new data, or went away. */
export interface RegistryEvent {
  type: RegistryEventType;
  /** The service with only the nodes this event is about. */
  service: Service;
}

export interface WatchOptions {
  /** Only events for this service. */
  service?: string;
  signal?: AbortSignal;
}

/**
 * Where services find each other. Backend-neutral: memory here, Redis, NATS and Postgres in
 * `@micro-os/discovery`.
 */
export interface Registry {
  readonly name: string;
  /** Adds or refreshes the service's nodes; registering again renews their TTL. */
  register(service: Service, options?: RegisterOptions): Promise<void>;
  /** Removes the service's listed nodes. */
  deregister(service: Service): Promise<void>;
  /** Every version of a service with its live nodes; `not_found` when none is registered. */
  getService(name: string, options?: { signal?: AbortSignal }): Promise<Service[]>;
  listServices(options?: { signal?: AbortSignal }): Promise<Service[]>;
  /** Changes from now on; ends when the signal aborts or the registry closes. */
  watch(options?: WatchOptions): AsyncIterable<RegistryEvent>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
