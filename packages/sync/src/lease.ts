import type { Holder, LockMetadata } from './types.js';

/** A lease as a backend records it; backends add their own handle fields. */
export interface Lease {
  readonly name: string;
  readonly token: number;
  /** Aborts when the backend learns that the lease is gone (the Postgres session that owns it ended). */
  readonly lost?: AbortSignal;
}

/** Why a backend refused to extend or release: someone else holds the name, or nobody does any more. */
export type LeaseEnd = 'lock_lost' | 'lock_expired';

/**
 * What a backend implements: single attempts only. Retries, validity, signals, renewal and errors live in
 * `createLocks`, the same for every backend.
 */
export interface LeaseBackend<L extends Lease = Lease> {
  readonly name: string;
  /** One attempt to take `name` for `ttl` ms; undefined when someone else holds it. */
  tryAcquire(name: string, ttl: number, metadata: LockMetadata): Promise<L | undefined>;
  /** Renews the lease for `ttl` ms from now; `true`, or why it is gone. */
  extend(lease: L, ttl: number): Promise<true | LeaseEnd>;
  /** Deletes the lease if it is still this holder's; `true`, or why it was not. */
  release(lease: L): Promise<true | LeaseEnd>;
  /** The live holder of `name`, if any. */
  inspect(name: string): Promise<Holder | undefined>;
  close(): Promise<void>;
}
