import { randomUUID } from 'node:crypto';
import { invalidArgument, MicroError, toMicroError } from '@micro-os/core';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createLocks, type LocksOptions } from './create-locks.js';
import type { Lease, LeaseBackend, LeaseEnd } from './lease.js';
import type { Holder, LockMetadata, Locks } from './types.js';

export interface NatsLocksOptions extends LocksOptions {
  /** A ready connection (left open on close). */
  connection?: NatsConnection;
  /** Or server URL(s): the backend connects lazily and closes the connection. */
  servers?: string | string[];
  /** The JetStream KV bucket holding the leases (created if missing). @default 'micro_sync_locks' */
  bucket?: string;
}

interface NatsLease extends Lease {
  /** The KV revision of our latest write: extends and releases are checked against it. */
  revision: number;
  readonly holder: string;
  readonly metadata: LockMetadata;
}

/** What a lease entry holds: holder id, ttl, metadata, and (after an extend) the token it was acquired with. */
interface LeaseValue {
  h: string;
  ttl: number;
  m: LockMetadata;
  t?: number;
}

const bucketPattern = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Locks on NATS JetStream KV: a lease is created only if absent and changed only at the revision last seen, and
 * the revision of the acquiring write is the fencing token. NATS 2.9 has no per-key TTL, so a lease counts as
 * expired once `created + ttl` (the server's timestamp of its last write) has passed on the reader's clock: the
 * clocks of clients and server must agree within the drift margin.
 */
export function natsLocks(options: NatsLocksOptions = {}): Locks {
  const { connection, servers, bucket = 'micro_sync_locks' } = options;
  if (connection !== undefined && servers !== undefined) {
    throw invalidArgument('natsLocks: give either connection or servers, not both', { field: 'servers' });
  }
  const list =
    servers === undefined ? ['nats://127.0.0.1:4222'] : Array.isArray(servers) ? servers : [servers];
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw invalidArgument(`invalid servers ${JSON.stringify(servers)}: must be non-empty URLs`, {
      field: 'servers',
    });
  }
  if (typeof bucket !== 'string' || !bucketPattern.test(bucket)) {
    throw invalidArgument(`invalid bucket ${JSON.stringify(bucket)}: use letters, digits, '_' and '-'`, {
      field: 'bucket',
    });
  }
  let owned: NatsConnection | undefined;
  let opening: Promise<KV> | undefined;
  const open = (): Promise<KV> => {
    opening ??= (async () => {
      let nc = connection;
      if (nc === undefined) {
        nc = await connect({ servers: list });
        owned = nc;
      }
      return new Kvm(nc).create(bucket, { history: 1 });
    })().catch((err: unknown) => {
      opening = undefined;
      throw new MicroError('unavailable', `could not open NATS KV bucket ${bucket}`, { cause: err });
    });
    return opening;
  };
  return createLocks(
    natsBackend(open, async () => {
      await owned?.close();
    }),
    options,
  );
}

function natsBackend(open: () => Promise<KV>, close: () => Promise<void>): LeaseBackend<NatsLease> {
  const encode = (value: LeaseValue): string => JSON.stringify(value);
  const decode = (entry: KvEntry): LeaseValue | undefined => {
    if (entry.operation !== 'PUT') return undefined;
    try {
      return entry.json<LeaseValue>();
    } catch {
      return undefined;
    }
  };
  const live = (entry: KvEntry | null): LeaseValue | undefined => {
    if (entry === null) return undefined;
    const value = decode(entry);
    if (value === undefined || entry.created.getTime() + value.ttl <= Date.now()) return undefined;
    return value;
  };
  /** Runs a revision-checked write: its revision, or undefined when someone else wrote first. */
  const checked = async (write: () => Promise<number>): Promise<number | undefined> => {
    try {
      return await write();
    } catch (err) {
      if (isWrongSequence(err)) return undefined;
      throw toMicroError(err, 'unavailable');
    }
  };
  const ending = async (kv: KV, lease: NatsLease): Promise<LeaseEnd> => {
    const entry = await kv.get(lease.name);
    const value = entry === null ? undefined : decode(entry);
    return value !== undefined && value.h !== lease.holder ? 'lock_lost' : 'lock_expired';
  };

  return {
    name: 'nats',
    tryAcquire: async (name, ttl, metadata) => {
      const kv = await open();
      const holder = randomUUID();
      const value = encode({ h: holder, ttl, m: metadata });
      let revision = await checked(() => kv.create(name, value));
      if (revision === undefined) {
        const entry = await kv.get(name);
        if (entry === null || live(entry) !== undefined) return undefined;
        // The last lease lapsed: take it over at the revision we saw, so only one contender can.
        revision = await checked(() => kv.update(name, value, entry.revision));
      }
      return revision === undefined ? undefined : { name, token: revision, revision, holder, metadata };
    },
    extend: async (lease, ttl) => {
      const kv = await open();
      const revision = await checked(() =>
        kv.update(
          lease.name,
          encode({ h: lease.holder, ttl, m: lease.metadata, t: lease.token }),
          lease.revision,
        ),
      );
      if (revision === undefined) return ending(kv, lease);
      lease.revision = revision;
      return true;
    },
    release: async (lease) => {
      const kv = await open();
      const done = await checked(async () => {
        await kv.delete(lease.name, { previousSeq: lease.revision });
        return 1;
      });
      return done === undefined ? ending(kv, lease) : true;
    },
    inspect: async (name): Promise<Holder | undefined> => {
      const kv = await open();
      const entry = await kv.get(name);
      const value = live(entry);
      return value === undefined || entry === null
        ? undefined
        : { name, token: value.t ?? entry.revision, metadata: value.m };
    },
    close,
  };
}

function isWrongSequence(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 10071 || code === 10164 || /wrong last sequence/i.test(String(err));
}
