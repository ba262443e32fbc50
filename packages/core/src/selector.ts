import { isMicroError, MicroError } from './errors.js';
import { checkServiceName } from './names.js';
import type { Node, Registry, RegistryEvent, Service } from './registry.js';

/** Picks the node for each attempt of one call; every call to `next` gives the node for the next attempt. */
export type Next = () => Node;

/** Orders the candidate nodes of one call. */
export type Strategy = (nodes: readonly Node[]) => Next;

/** Narrows the candidate services (and their nodes) before a strategy picks. */
export type Filter = (services: readonly Service[]) => Service[];

export interface SelectOptions {
  filters?: readonly Filter[];
  strategy?: Strategy;
  signal?: AbortSignal;
}

/** Chooses which node answers a call. The router package supplies smarter ones. */
export interface Selector {
  readonly name: string;
  /**
   * `not_found` for an unknown service, `unavailable` when every node is filtered out or marked bad. May answer
   * synchronously when the nodes are cached.
   */
  select(service: string, options?: SelectOptions): Next | Promise<Next>;
  /** Reports the outcome of a call to `node`: `unavailable` marks it bad for a while, success clears it. */
  mark(service: string, node: Node, error?: unknown): void;
  close(): Promise<void>;
}

/** Picks uniformly at random; each `next` draws again among the nodes not yet tried. */
export function random(): Strategy {
  return (nodes) => {
    const left = [...nodes];
    return () => {
      if (left.length === 0) left.push(...nodes);
      const i = Math.floor(Math.random() * left.length);
      const node = left[i] as Node;
      left.splice(i, 1);
      return node;
    };
  };
}

/** Takes the nodes in turn; retries of one call move on to the following node. */
export function roundRobin(): Strategy {
  let counter = 0;
  return (nodes) => {
    let i = counter++;
    return () => nodes[i++ % nodes.length] as Node;
  };
}

/** Keeps only the given version. */
export function filterVersion(version: string): Filter {
  return (services) => services.filter((s) => s.version === version);
}

/** Keeps only the nodes whose metadata has `key` equal to `value`. */
export function filterMetadata(key: string, value: string): Filter {
  return (services) =>
    services
      .map((s) => ({ ...s, nodes: s.nodes.filter((n) => n.metadata[key] === value) }))
      .filter((s) => s.nodes.length > 0);
}

export interface CachedSelectorOptions {
  registry: Registry;
  /** @default roundRobin() */
  strategy?: Strategy;
  /** Milliseconds a node stays excluded after a retryable failure. @default 5000 */
  badNodeTimeout?: number;
  /** Milliseconds a cached lookup is trusted without a watch event. @default 60000 */
  cacheTtl?: number;
}

interface CacheEntry {
  services: Service[];
  /** Every node of every version, for the common unfiltered select. */
  nodes: Node[];
  expires: number;
}

/** The default selector: registry lookups cached and kept fresh by a registry watch; failing nodes sit out. */
export function cachedSelector(options: CachedSelectorOptions): Selector {
  const { registry } = options;
  const strategy = options.strategy ?? roundRobin();
  const badNodeTimeout = options.badNodeTimeout ?? 5000;
  const cacheTtl = options.cacheTtl ?? 60_000;
  if (!(badNodeTimeout >= 0))
    throw new MicroError('invalid_argument', `badNodeTimeout must be >= 0, got ${badNodeTimeout}`);
  if (!(cacheTtl > 0)) throw new MicroError('invalid_argument', `cacheTtl must be > 0, got ${cacheTtl}`);
  const cache = new Map<string, CacheEntry>();
  const bad = new Map<string, number>();
  const watching = new AbortController();
  let watchStarted = false;

  const startWatch = (): void => {
    if (watchStarted) return;
    watchStarted = true;
    void (async () => {
      try {
        for await (const event of registry.watch({ signal: watching.signal })) apply(event);
      } catch {
        // The registry cannot be watched now: fall back to the cache TTL.
      }
      if (!watching.signal.aborted) {
        cache.clear();
        watchStarted = false;
      }
    })();
  };

  const apply = (event: RegistryEvent): void => {
    const entry = cache.get(event.service.name);
    if (entry === undefined) return;
    const { service } = event;
    let version = entry.services.find((s) => s.version === service.version);
    if (version === undefined) {
      if (event.type === 'delete') return;
      version = { ...service, nodes: [] };
      entry.services.push(version);
    }
    const ids = new Set(service.nodes.map((n) => n.id));
    version.nodes = version.nodes.filter((n) => !ids.has(n.id));
    if (event.type !== 'delete') version.nodes.push(...service.nodes);
    entry.services = entry.services.filter((s) => s.nodes.length > 0);
    entry.nodes = entry.services.flatMap((s) => s.nodes);
  };

  const lookup = async (name: string, signal: AbortSignal | undefined): Promise<CacheEntry> => {
    const now = Date.now();
    checkServiceName(name);
    startWatch();
    const services = await registry.getService(name, signal === undefined ? {} : { signal });
    const entry = { services, nodes: services.flatMap((s) => s.nodes), expires: now + cacheTtl };
    cache.set(name, entry);
    return entry;
  };

  const pick = (service: string, entry: CacheEntry, selectOptions: SelectOptions): Next => {
    let all = entry.nodes;
    if (selectOptions.filters !== undefined && selectOptions.filters.length > 0) {
      let services: readonly Service[] = entry.services;
      for (const filter of selectOptions.filters) services = filter(services);
      all = services.flatMap((s) => s.nodes);
    }
    let healthy = all;
    if (bad.size > 0) {
      const now = Date.now();
      healthy = all.filter((n) => (bad.get(n.id) ?? 0) <= now);
    }
    if (healthy.length === 0) {
      throw new MicroError(
        'unavailable',
        all.length === 0
          ? `no node of ${service} matches the filters`
          : `no healthy node of ${service}: all ${all.length} marked bad`,
        { details: { service, nodes: all.length } },
      );
    }
    return (selectOptions.strategy ?? strategy)(healthy);
  };

  return {
    name: 'cache',
    select(service, selectOptions = {}) {
      const hit = cache.get(service);
      if (hit !== undefined && hit.expires > Date.now()) return pick(service, hit, selectOptions);
      return lookup(service, selectOptions.signal).then((entry) => pick(service, entry, selectOptions));
    },
    mark(_service, node, error) {
      if (error === undefined) {
        if (bad.size > 0) bad.delete(node.id);
      } else if (isMicroError(error, 'unavailable') && error.details.local !== true) {
        // Only an unreachable node sits out; an error flagged `local` is this process's own connection trouble.
        bad.set(node.id, Date.now() + badNodeTimeout);
      }
    },
    async close() {
      watching.abort();
      cache.clear();
      bad.clear();
    },
  };
}
