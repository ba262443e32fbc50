import { createLocks, type LocksOptions } from './create-locks.js';
import type { Lease, LeaseBackend } from './lease.js';
import type { Holder, LockMetadata, Locks } from './types.js';

interface Entry {
  token: number;
  expiresAt: number;
  metadata: LockMetadata;
}

/** In-process locks: one process only, no setup. Tokens count up from 1 per `memoryLocks()` instance. */
export function memoryLocks(options: LocksOptions = {}): Locks {
  return createLocks(memoryBackend(), options);
}

function memoryBackend(): LeaseBackend {
  const entries = new Map<string, Entry>();
  let counter = 0;
  const live = (name: string): Entry | undefined => {
    const entry = entries.get(name);
    if (entry !== undefined && entry.expiresAt <= Date.now()) {
      entries.delete(name);
      return undefined;
    }
    return entry;
  };
  const mine = (lease: Lease): true | 'lock_lost' | 'lock_expired' => {
    const entry = live(lease.name);
    if (entry === undefined) return 'lock_expired';
    return entry.token === lease.token ? true : 'lock_lost';
  };
  return {
    name: 'memory',
    tryAcquire: async (name, ttl, metadata) => {
      if (live(name) !== undefined) return undefined;
      counter += 1;
      entries.set(name, { token: counter, expiresAt: Date.now() + ttl, metadata });
      return { name, token: counter };
    },
    extend: async (lease, ttl) => {
      const outcome = mine(lease);
      const entry = entries.get(lease.name);
      if (outcome === true && entry !== undefined) entry.expiresAt = Date.now() + ttl;
      return outcome;
    },
    release: async (lease) => {
      const outcome = mine(lease);
      if (outcome === true) entries.delete(lease.name);
      return outcome;
    },
    inspect: async (name): Promise<Holder | undefined> => {
      const entry = live(name);
      return entry === undefined ? undefined : { name, token: entry.token, metadata: { ...entry.metadata } };
    },
    close: async () => {
      entries.clear();
    },
  };
}
