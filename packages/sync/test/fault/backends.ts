import type { Locks } from '@micro-os/sync';
import { natsLocks } from '@micro-os/sync/nats';
import { postgresLocks } from '@micro-os/sync/postgres';
import { redisLocks } from '@micro-os/sync/redis';

/** How a fault-test process reaches a backend: serialisable, so parent and children build the same one. */
export type BackendSpec =
  | { kind: 'redis'; urls: string[]; prefix: string }
  | { kind: 'postgres'; url: string; table: string }
  | { kind: 'nats'; servers: string; bucket: string };

/** Short critical sections: retry often (a waiter's delay grows to at most 25 ms instead of 100). */
const retry = { retryMaxDelay: 25 };

export function openLocks(spec: BackendSpec): Locks {
  switch (spec.kind) {
    case 'redis':
      return redisLocks({
        url: spec.urls.length === 1 ? (spec.urls[0] as string) : spec.urls,
        prefix: spec.prefix,
      });
    case 'postgres':
      return postgresLocks({ url: spec.url, table: spec.table, ...retry });
    case 'nats':
      return natsLocks({ servers: spec.servers, bucket: spec.bucket, ...retry });
  }
}
