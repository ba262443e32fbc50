import { Channel, type RegistryEvent, type RegistryEventType } from '@micro-os/core';
import { type LiveRecord, type NodeRecord, recordIdentity } from './record.js';

interface Known {
  record: NodeRecord;
  /** Local clock time after which the node is gone unless renewed. */
  expires: number;
}

/** How often a watcher checks for nodes whose TTL ran out without a renewal. */
const expiryCheckMs = 100;

/**
 * What one watcher knows: every live node it has seen, with its expiry on the local clock. Backends feed
 * it puts and deletes; it turns them into create/update/delete events, drops duplicates (a delete seen
 * from both a sweeper and a local timer is reported once) and reports a node whose TTL ran out as deleted
 * even if no backend notification ever arrives.
 */
export class WatchState {
  readonly channel: Channel<RegistryEvent>;
  readonly #known = new Map<string, Known>();
  readonly #service: string | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(service: string | undefined, signal: AbortSignal | undefined, onEnd: () => void) {
    this.#service = service;
    this.#timer = setInterval(() => this.expire(), expiryCheckMs);
    this.#timer.unref();
    this.channel = new Channel<RegistryEvent>(signal, () => {
      clearInterval(this.#timer);
      onEnd();
    });
  }

  get ended(): boolean {
    return this.channel.ended;
  }

  matches(name: string): boolean {
    return this.#service === undefined || this.#service === name;
  }

  /** Records what exists when the watch starts, without reporting it. */
  load(records: Iterable<LiveRecord>): void {
    for (const { record, ttl } of records) {
      if (this.matches(record.service.name)) this.#known.set(recordIdentity(record), known(record, ttl));
    }
  }

  /** A node was written: created, changed, or renewed (renewals only move its expiry). */
  put(record: NodeRecord, ttl: number | null): void {
    if (!this.matches(record.service.name)) return;
    const id = recordIdentity(record);
    const previous = this.#known.get(id);
    this.#known.set(id, known(record, ttl));
    if (previous === undefined) this.#emit('create', record);
    else if (JSON.stringify(previous.record) !== JSON.stringify(record)) this.#emit('update', record);
  }

  /** A node was removed (deregistered, swept or expired), identified by its identity. */
  remove(id: string, record?: NodeRecord): void {
    const previous = this.#known.get(id);
    if (previous === undefined) return;
    this.#known.delete(id);
    this.#emit('delete', record ?? previous.record);
  }

  /** Reports nodes whose TTL ran out on the local clock. */
  expire(now = Date.now()): void {
    for (const [id, entry] of this.#known) {
      if (entry.expires <= now) {
        this.#known.delete(id);
        this.#emit('delete', entry.record);
      }
    }
  }

  #emit(type: RegistryEventType, record: NodeRecord): void {
    this.channel.push({
      type,
      service: { ...structuredClone(record.service), nodes: [structuredClone(record.node)] },
    });
  }
}

function known(record: NodeRecord, ttl: number | null): Known {
  return { record, expires: ttl === null ? Number.POSITIVE_INFINITY : Date.now() + ttl };
}

/** The set of watchers of one registry instance, fed by its one backend subscription. */
export class Watchers {
  readonly #states = new Set<WatchState>();

  get size(): number {
    return this.#states.size;
  }

  add(service: string | undefined, signal: AbortSignal | undefined, onEnd: () => void): WatchState {
    const state: WatchState = new WatchState(service, signal, () => {
      this.#states.delete(state);
      onEnd();
    });
    this.#states.add(state);
    return state;
  }

  put(record: NodeRecord, ttl: number | null): void {
    for (const state of this.#states) state.put(record, ttl);
  }

  remove(id: string, record?: NodeRecord): void {
    for (const state of this.#states) state.remove(id, record);
  }

  fail(error: unknown): void {
    for (const state of [...this.#states]) state.channel.fail(error);
  }

  end(): void {
    for (const state of [...this.#states]) state.channel.end();
  }
}
