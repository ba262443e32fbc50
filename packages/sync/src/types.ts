/** String metadata a holder publishes with its lease (an election candidate's address, for example). */
export type LockMetadata = Record<string, string>;

export interface AcquireOptions {
  /** Lease length in ms; the lock is lost if not extended within it. @default 10000 */
  ttl?: number;
  /** How long to keep retrying (with jitter) while the lock is held elsewhere, in ms; `0` tries once. @default 10000 */
  wait?: number;
  /** Stops waiting; an in-flight acquisition that succeeds late is released again. */
  signal?: AbortSignal;
  /** Published with the lease; readable through `inspect()` and `election.leader()`. @default {} */
  metadata?: LockMetadata;
}

export interface WithLockOptions extends AcquireOptions {
  /** How often the lease is extended while `fn` runs, in ms; must be below `ttl`. @default ttl / 3 */
  renewInterval?: number;
}

/** A held lease on a name. */
export interface Lock extends AsyncDisposable {
  readonly name: string;
  /**
   * The fencing token: strictly greater than the token of every earlier acquisition of this name on the same
   * backend. Pass it to the protected resource so that it can refuse writes from an older holder.
   */
  readonly token: number;
  /** Aborts when the lease is released, lost (someone else holds it) or expired (not extended in time). */
  readonly signal: AbortSignal;
  /** Local time (ms since epoch) until which the lease is certainly held, drift margin deducted. */
  readonly validUntil: number;
  /** Renews the lease for `ttl` ms (default: the acquisition's ttl). Fails with `aborted` if it was lost. */
  extend(ttl?: number): Promise<void>;
  /**
   * Gives the lease up. Releasing a lock that is no longer held fails with `aborted`
   * (`details.reason` `lock_lost` or `lock_expired`) and never touches another holder's lease.
   */
  release(): Promise<void>;
}

/** Who holds a name right now, as the backend sees it. */
export interface Holder {
  readonly name: string;
  readonly token: number;
  readonly metadata: LockMetadata;
}

export interface Locks extends AsyncDisposable {
  /** The backend's name: "memory", "redis", "postgres", "nats". */
  readonly backend: string;
  acquire(name: string, options?: AcquireOptions): Promise<Lock>;
  /** Acquires `name`, extends it while `fn` runs, passes `fn` the lock's signal, and releases it afterwards. */
  withLock<T>(
    name: string,
    fn: (signal: AbortSignal, lock: Lock) => Promise<T> | T,
    options?: WithLockOptions,
  ): Promise<T>;
  /** The current holder of `name`, or undefined when it is free. */
  inspect(name: string): Promise<Holder | undefined>;
  close(): Promise<void>;
}
