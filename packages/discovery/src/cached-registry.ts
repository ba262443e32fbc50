import {
  checkServiceName,
  deadlineSignal,
  isMicroError,
  MicroError,
  type RegisterOptions,
  type Registry,
  type RegistryEvent,
  type Service,
  sleep,
  type WatchOptions,
} from '@micro-os/core';

export interface CachedRegistryOptions {
  /** Longest time an entry is served without asking the backend, even with no watch event. @default 30000 */
  maxAge?: number;
  /** Time allowed for one backend lookup before the cached copy is served as stale. @default 1000 */
  timeout?: number;
  /** Metadata key set to `'true'` on every service returned from a stale entry. @default 'registry.stale' */
  staleKey?: string;
}

/** What the cache knows about one service. */
export interface CacheInfo {
  /** True when the last backend lookup failed and the entry is served as it was. */
  stale: boolean;
  /** Milliseconds since the entry was fetched. */
  age: number;
}

/** A registry whose reads come from memory, with `cacheInfo()` saying how fresh an entry is. */
export interface CachedRegistry extends Registry {
  cacheInfo(name: string): CacheInfo | undefined;
}

interface Entry {
  services: Service[];
  fetched: number;
  /** Still believed current: no watch event since, the watch is up, within maxAge. */
  valid: boolean;
  stale: boolean;
}

/**
 * go-os discovery's read layer: `getService` answers from memory, entries are dropped when a watch event
 * touches their service, and while the backend is unreachable the last known nodes are served with the
 * metadata flag `registry.stale = 'true'` (and `cacheInfo(name).stale`). Writes and watches pass through.
 */
export function cachedRegistry(registry: Registry, options: CachedRegistryOptions = {}): CachedRegistry {
  const maxAge = options.maxAge ?? 30_000;
  const timeout = options.timeout ?? 1000;
  const staleKey = options.staleKey ?? 'registry.stale';
  if (!(maxAge > 0))
    throw new MicroError('invalid_argument', `cachedRegistry: maxAge must be > 0, got ${maxAge}`);
  if (!(timeout > 0))
    throw new MicroError('invalid_argument', `cachedRegistry: timeout must be > 0, got ${timeout}`);
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Service[]>>();
  /** Watch events seen per service: a lookup that overlapped one may have read older data. */
  const generations = new Map<string, number>();
  let epoch = 0;
  const closer = new AbortController();
  /** The watch is up: entries fetched now stay valid until an event touches them. */
  let watching = false;
  /** The loop that keeps a watch open is running (it may be waiting to restart one). */
  let following = false;

  const invalidateAll = (): void => {
    epoch += 1;
    for (const entry of cache.values()) entry.valid = false;
  };

  const follow = async (): Promise<void> => {
    let failures = 0;
    while (!closer.signal.aborted) {
      // One signal per round, so that restarted watches do not pile listeners onto the closer's signal.
      const round = new AbortController();
      const stop = (): void => round.abort();
      closer.signal.addEventListener('abort', stop, { once: true });
      try {
        const events = registry.watch({ signal: round.signal });
        watching = true;
        for await (const event of events) {
          failures = 0;
          const name = event.service.name;
          generations.set(name, (generations.get(name) ?? 0) + 1);
          const entry = cache.get(name);
          if (entry !== undefined) entry.valid = false;
        }
      } catch {
        failures += 1;
      } finally {
        closer.signal.removeEventListener('abort', stop);
        round.abort();
      }
      watching = false;
      invalidateAll();
      if (closer.signal.aborted) return;
      await sleep(Math.min(100 * 2 ** failures, 2000), closer.signal).catch(() => undefined);
    }
  };

  const fetch = (name: string): Promise<Service[]> => {
    const pending = inflight.get(name);
    if (pending !== undefined) return pending;
    const { signal, done } = deadlineSignal(undefined, timeout);
    const generation = `${epoch}:${generations.get(name) ?? 0}`;
    const promise = registry
      .getService(name, { signal })
      .then(
        (services) => {
          // An event that arrived while the lookup ran may be newer than what it read: keep it invalid.
          const unchanged = generation === `${epoch}:${generations.get(name) ?? 0}`;
          cache.set(name, { services, fetched: Date.now(), valid: watching && unchanged, stale: false });
          return services;
        },
        (err: unknown) => {
          if (isMicroError(err, 'not_found')) cache.delete(name);
          throw err;
        },
      )
      .finally(() => {
        done();
        inflight.delete(name);
      });
    inflight.set(name, promise);
    return promise;
  };

  const withTimeout = (promise: Promise<Service[]>): Promise<Service[]> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new MicroError('unavailable', `registry lookup took over ${timeout} ms`)),
        timeout,
      );
      timer.unref();
      promise.then(resolve, reject).finally(() => clearTimeout(timer));
    });

  // A hand-written copy: callers may change what they get without touching the cache, and it costs far
  // less than structuredClone on the hot path.
  const copy = (services: Service[], stale: boolean): Service[] =>
    services.map((s) => ({
      name: s.name,
      version: s.version,
      metadata: stale ? { ...s.metadata, [staleKey]: 'true' } : { ...s.metadata },
      endpoints: s.endpoints.map((e) => ({ name: e.name, metadata: { ...e.metadata } })),
      nodes: s.nodes.map((n) => ({ id: n.id, address: n.address, metadata: { ...n.metadata } })),
    }));

  return {
    name: `cached(${registry.name})`,
    register: (service: Service, opts?: RegisterOptions) => registry.register(service, opts),
    deregister: (service: Service) => registry.deregister(service),
    async getService(name: string) {
      // The hot path: a valid entry exists only under a name that passed the check when it was fetched.
      const entry = cache.get(name);
      if (entry?.valid && Date.now() - entry.fetched < maxAge) return copy(entry.services, false);
      checkServiceName(name);
      if (!following && !closer.signal.aborted) {
        following = true;
        void follow();
      }
      if (entry?.stale === true) {
        // Known unreachable: answer at once and let one lookup in the background find out if it is back.
        fetch(name).catch(() => undefined);
        return copy(entry.services, true);
      }
      try {
        return copy(await withTimeout(fetch(name)), false);
      } catch (err) {
        if (isMicroError(err, 'not_found') || isMicroError(err, 'invalid_argument') || entry === undefined)
          throw err;
        entry.stale = true;
        return copy(entry.services, true);
      }
    },
    listServices: (opts?: { signal?: AbortSignal }) => registry.listServices(opts),
    watch: (opts?: WatchOptions): AsyncIterable<RegistryEvent> => registry.watch(opts),
    cacheInfo(name: string) {
      const entry = cache.get(name);
      return entry === undefined ? undefined : { stale: entry.stale, age: Date.now() - entry.fetched };
    },
    async close() {
      closer.abort();
      cache.clear();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
