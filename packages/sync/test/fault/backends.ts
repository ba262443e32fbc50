import type { Locks } from '@micro-os/sync';

/** How a fault-test process reaches a backend: serialisable, so parent and children build the same one. */
export type BackendSpec =
  | { kind: 'redis'; urls: string[]; prefix: string }
  | { kind: 'postgres'; url: string; table: string }
  | { kind: 'nats'; servers: string; bucket: string };

/** Short critical sections: retry often (a waiter's delay grows to at most 25 ms instead of 100). */
const retry = { retryMaxDelay: 25 };

/** Opens the backend's `Locks`, loading only that backend's driver (a worker process starts faster). */
export async function openLocks(spec: BackendSpec): Promise<Locks> {
  switch (spec.kind) {
    case 'redis': {
      const { redisLocks } = await import('@micro-os/sync/redis');
      return redisLocks({
        url: spec.urls.length === 1 ? (spec.urls[0] as string) : spec.urls,
        prefix: spec.prefix,
      });
    }
    case 'postgres': {
      const { postgresLocks } = await import('@micro-os/sync/postgres');
      return postgresLocks({ url: spec.url, table: spec.table, ...retry });
    }
    case 'nats': {
      const { natsLocks } = await import('@micro-os/sync/nats');
      return natsLocks({ servers: spec.servers, bucket: spec.bucket, ...retry });
    }
  }
}
