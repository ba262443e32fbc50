import { Channel } from './channel.js';
import { invalidArgument, MicroError } from './errors.js';
import { checkServiceName } from './names.js';
import type { Node, RegisterOptions, Registry, RegistryEvent, Service, WatchOptions } from './registry.js';

interface Entry {
  node: Node;
  expires: number;
}

interface Version {
  service: Omit<Service, 'nodes'>;
  nodes: Map<string, Entry>;
}

/** An in-process registry: TTLs expire lazily on read and through one unref'd sweep timer. */
export function memoryRegistry(): Registry {
  const services = new Map<string, Map<string, Version>>();
  const watchers = new Set<{ channel: Channel<RegistryEvent>; service: string | undefined }>();
  let sweeper: NodeJS.Timeout | undefined;

  const emit = (type: RegistryEvent['type'], version: Version, nodes: Node[]): void => {
    const event: RegistryEvent = {
      type,
      service: { ...structuredClone(version.service), nodes: structuredClone(nodes) },
    };
    for (const watcher of watchers) {
      if (watcher.service === undefined || watcher.service === version.service.name)
        watcher.channel.push(event);
    }
  };

  const sweep = (now = Date.now()): void => {
    for (const [name, versions] of services) {
      for (const [key, version] of versions) {
        const expired: Node[] = [];
        for (const [id, entry] of version.nodes) {
          if (entry.expires <= now) {
            version.nodes.delete(id);
            expired.push(entry.node);
          }
        }
        if (expired.length > 0) emit('delete', version, expired);
        if (version.nodes.size === 0) versions.delete(key);
      }
      if (versions.size === 0) services.delete(name);
    }
  };

  const ensureSweeper = (): void => {
    if (sweeper !== undefined) return;
    sweeper = setInterval(() => {
      sweep();
      if (services.size === 0) {
        clearInterval(sweeper);
        sweeper = undefined;
      }
    }, 250);
    sweeper.unref();
  };

  const snapshot = (version: Version): Service => ({
    ...structuredClone(version.service),
    nodes: [...version.nodes.values()].map((e) => structuredClone(e.node)),
  });

  return {
    name: 'memory',
    async register(service: Service, options: RegisterOptions = {}) {
      validate(service);
      if (options.ttl !== undefined && !(options.ttl > 0))
        throw invalidArgument(`ttl must be > 0 ms, got ${options.ttl}`);
      const expires = options.ttl === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.ttl;
      const versions = services.get(service.name) ?? new Map<string, Version>();
      services.set(service.name, versions);
      const { nodes, ...rest } = service;
      const version = versions.get(service.version) ?? { service: rest, nodes: new Map<string, Entry>() };
      version.service = structuredClone(rest);
      versions.set(service.version, version);
      const created: Node[] = [];
      const updated: Node[] = [];
      for (const node of nodes) {
        const previous = version.nodes.get(node.id);
        version.nodes.set(node.id, { node: structuredClone(node), expires });
        if (previous === undefined) created.push(node);
        else if (JSON.stringify(previous.node) !== JSON.stringify(node)) updated.push(node);
      }
      if (created.length > 0) emit('create', version, created);
      if (updated.length > 0) emit('update', version, updated);
      if (Number.isFinite(expires)) ensureSweeper();
    },
    async deregister(service: Service) {
      validate(service);
      const version = services.get(service.name)?.get(service.version);
      if (version === undefined) return;
      const removed: Node[] = [];
      for (const node of service.nodes) {
        const entry = version.nodes.get(node.id);
        if (entry === undefined) continue;
        version.nodes.delete(node.id);
        removed.push(entry.node);
      }
      if (removed.length > 0) emit('delete', version, removed);
      sweep();
      if (version.nodes.size === 0) services.get(service.name)?.delete(service.version);
      if (services.get(service.name)?.size === 0) services.delete(service.name);
    },
    async getService(name: string) {
      checkServiceName(name);
      sweep();
      const versions = services.get(name);
      if (versions === undefined || versions.size === 0)
        throw new MicroError('not_found', `service ${name} is not registered`);
      return [...versions.values()].map(snapshot);
    },
    async listServices() {
      sweep();
      return [...services.values()].flatMap((versions) => [...versions.values()].map(snapshot));
    },
    watch(options: WatchOptions = {}): AsyncIterable<RegistryEvent> {
      if (options.service !== undefined) checkServiceName(options.service);
      const watcher = {
        service: options.service,
        channel: new Channel<RegistryEvent>(options.signal, () => watchers.delete(watcher)),
      };
      watchers.add(watcher);
      return watcher.channel;
    },
    async close() {
      for (const watcher of watchers) watcher.channel.end();
      watchers.clear();
      if (sweeper !== undefined) clearInterval(sweeper);
      sweeper = undefined;
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

/** Checks a service definition before it is stored; shared by every registry backend. */
export function validate(service: Service): void {
  if (typeof service !== 'object' || service === null) throw invalidArgument('service must be an object');
  checkServiceName(service.name);
  if (typeof service.version !== 'string')
    throw invalidArgument(`service ${service.name}: version must be a string`);
  if (!Array.isArray(service.nodes)) throw invalidArgument(`service ${service.name}: nodes must be an array`);
  for (const node of service.nodes) {
    if (typeof node?.id !== 'string' || node.id === '')
      throw invalidArgument(`service ${service.name}: every node needs an id`);
    if (typeof node.address !== 'string' || node.address === '') {
      throw invalidArgument(`service ${service.name}: node ${node.id} needs an address`);
    }
  }
}
