import { performance } from 'node:perf_hooks';
import type { Registry, RegistryEvent, Service } from '@micro-os/core';

interface Entry {
  services: Service[];
  expires: number;
}

/** Registry lookups cached per service and kept fresh by one registry watch; the TTL is the fallback. */
export class ServiceCache {
  readonly #registry: Registry;
  readonly #ttl: number;
  readonly #entries = new Map<string, Entry>();
  readonly #watching = new AbortController();
  #watchStarted = false;

  constructor(registry: Registry, ttl: number) {
    this.#registry = registry;
    this.#ttl = ttl;
  }

  /** The cached services, or undefined when a registry lookup is needed; `now` is `performance.now()`. */
  peek(name: string, now: number): Service[] | undefined {
    const hit = this.#entries.get(name);
    return hit !== undefined && hit.expires > now ? hit.services : undefined;
  }

  async lookup(name: string, signal: AbortSignal | undefined): Promise<Service[]> {
    const now = performance.now();
    const hit = this.peek(name, now);
    if (hit !== undefined) return hit;
    this.#startWatch();
    const services = await this.#registry.getService(name, signal === undefined ? {} : { signal });
    this.#entries.set(name, { services, expires: now + this.#ttl });
    return services;
  }

  close(): void {
    this.#watching.abort();
    this.#entries.clear();
  }

  #startWatch(): void {
    if (this.#watchStarted) return;
    this.#watchStarted = true;
    void (async () => {
      try {
        for await (const event of this.#registry.watch({ signal: this.#watching.signal })) this.#apply(event);
      } catch {
        // The registry cannot be watched now: cached lookups expire after the TTL instead.
      }
      if (!this.#watching.signal.aborted) {
        this.#entries.clear();
        this.#watchStarted = false;
      }
    })();
  }

  #apply(event: RegistryEvent): void {
    const entry = this.#entries.get(event.service.name);
    if (entry === undefined) return;
    const { service } = event;
    const services = entry.services.map((s) => ({ ...s, nodes: [...s.nodes] }));
    let version = services.find((s) => s.version === service.version);
    if (version === undefined) {
      if (event.type === 'delete') return;
      version = { ...service, nodes: [] };
      services.push(version);
    }
    const ids = new Set(service.nodes.map((n) => n.id));
    version.nodes = version.nodes.filter((n) => !ids.has(n.id));
    if (event.type !== 'delete') version.nodes.push(...service.nodes);
    entry.services = services.filter((s) => s.nodes.length > 0);
  }
}
