import {
  checkServiceName,
  invalidArgument,
  MicroError,
  type Node,
  type Service,
  validateService,
} from '@micro-os/core';

/** One node of one service version, as every backend stores it. */
export interface NodeRecord {
  service: Omit<Service, 'nodes'>;
  node: Node;
}

/** A change as the Redis and Postgres registries broadcast it to watchers. */
export interface ChangeMessage {
  op: 'put' | 'del';
  ttl?: number | null;
  record: NodeRecord;
}

/** A record with the milliseconds it has left to live (`null`: no expiry). */
export interface LiveRecord {
  record: NodeRecord;
  ttl: number | null;
}

/** The identity of a node across backends: service name, version and node id. */
export function identity(name: string, version: string, nodeId: string): string {
  return JSON.stringify([name, version, nodeId]);
}

export const recordIdentity = (record: NodeRecord): string =>
  identity(record.service.name, record.service.version, record.node.id);

/** Splits a service into one record per node. */
export function toRecords(service: Service): NodeRecord[] {
  const { nodes, ...rest } = service;
  return nodes.map((node) => ({
    service: { name: rest.name, version: rest.version, metadata: rest.metadata, endpoints: rest.endpoints },
    node: { id: node.id, address: node.address, metadata: node.metadata },
  }));
}

/** Groups records back into services, one per version, nodes sorted by id. */
export function toServices(records: Iterable<NodeRecord>): Service[] {
  const byKey = new Map<string, Service>();
  for (const { service, node } of records) {
    const key = JSON.stringify([service.name, service.version]);
    const found = byKey.get(key);
    if (found === undefined) byKey.set(key, { ...service, nodes: [node] });
    else found.nodes.push(node);
  }
  const services = [...byKey.values()];
  for (const service of services) service.nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return services;
}

export function parseRecord(text: string): NodeRecord {
  try {
    const value = JSON.parse(text) as NodeRecord;
    if (typeof value?.service?.name !== 'string' || typeof value.node?.id !== 'string')
      throw new Error('shape');
    return value;
  } catch (err) {
    throw new MicroError('internal', `malformed registry record: ${text.slice(0, 80)}`, { cause: err });
  }
}

export interface RegistrationLimits {
  /** Largest JSON size of one node's record (service metadata, endpoints, node metadata), bytes. */
  maxRecordBytes: number;
}

/** @default 8 KiB: small enough for a Postgres NOTIFY payload. */
export const defaultMaxRecordBytes = 7900;

/**
 * Everything core's validation checks, plus what a shared registry needs: ports in 1-65535, each node
 * id once per call, string metadata, records under the size limit, TTL a positive integer.
 */
export function checkRegistration(
  service: Service,
  ttl: number | undefined,
  limits: RegistrationLimits,
): void {
  validateService(service);
  if (typeof service.metadata !== 'object' || service.metadata === null)
    throw invalidArgument(`service ${service.name}: metadata must be an object of strings`);
  checkStrings(service.metadata, `service ${service.name} metadata`);
  if (!Array.isArray(service.endpoints))
    throw invalidArgument(`service ${service.name}: endpoints must be an array`);
  if (ttl !== undefined && !(Number.isFinite(ttl) && ttl > 0))
    throw invalidArgument(`ttl must be a positive number of ms, got ${ttl}`);
  const seen = new Set<string>();
  for (const node of service.nodes) {
    if (seen.has(node.id)) throw invalidArgument(`service ${service.name}: node ${node.id} is listed twice`);
    seen.add(node.id);
    checkStrings(node.metadata ?? {}, `node ${node.id} metadata`);
    checkPort(node.address, node.id);
  }
  for (const record of toRecords(service)) {
    const size = Buffer.byteLength(JSON.stringify(record));
    if (size > limits.maxRecordBytes) {
      throw invalidArgument(
        `service ${service.name}: node ${record.node.id} record is ${size} bytes, over the limit of ${limits.maxRecordBytes} (metadata too large)`,
        { size, max: limits.maxRecordBytes },
      );
    }
  }
}

function checkStrings(metadata: Record<string, unknown>, what: string): void {
  if (typeof metadata !== 'object' || metadata === null) throw invalidArgument(`${what} must be an object`);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string')
      throw invalidArgument(`${what}: ${key} must be a string, got ${typeof value}`);
  }
}

const urlPort = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^/:?#]*):(-?\d+)(?:[/?#]|$)/;
const hostPort = /^(?:\[[^\]]*\]|[^/:?#\s]+):(-?\d+)$/;

/** An address that names a port (`http://h:p`, `h:p`, `[::1]:p`) must name one in 1-65535. */
function checkPort(address: string, nodeId: string): void {
  const port = urlPort.exec(address)?.[1] ?? hostPort.exec(address)?.[1];
  if (port === undefined) return;
  const value = Number(port);
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw invalidArgument(`node ${nodeId}: port ${JSON.stringify(port)} of ${address} is outside 1-65535`, {
      address,
    });
  }
}

/** The error for a node id that is live at another address. */
export function conflict(record: NodeRecord, existing: string): MicroError {
  return invalidArgument(
    `service ${record.service.name}: node ${record.node.id} is already registered at ${existing}, not ${record.node.address}; deregister it first`,
    { node: record.node.id, address: record.node.address, existing },
  );
}

/** `getService` over a backend's loader: driver failures wrapped, `not_found` when no node is live. */
export async function lookupService(
  name: string,
  load: (name: string) => Promise<LiveRecord[]>,
  wrap: (err: unknown, what: string) => MicroError,
): Promise<Service[]> {
  checkServiceName(name);
  let found: LiveRecord[];
  try {
    found = await load(name);
  } catch (err) {
    throw wrap(err, `getService ${name}`);
  }
  if (found.length === 0) throw new MicroError('not_found', `service ${name} is not registered`);
  return toServices(found.map((f) => f.record));
}
