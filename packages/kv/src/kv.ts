/** A JSON value: what `jsonCodec` can carry and bring back unchanged. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What a KV stores: raw bytes, or any JSON value. Each comes back as the type it went in as. */
export type Value = Uint8Array | JsonValue;

export interface PutOptions {
  /** Time to live in milliseconds (> 0). Omit for an item that never expires. @default undefined */
  ttl?: number;
  /** Write only if the stored version is this one; otherwise fail with `aborted`. @default undefined */
  ifVersion?: number;
  /** Write only if no live item has this key; otherwise fail with `already_exists`. @default false */
  ifAbsent?: boolean;
}

/** An item with its version, for read-modify-write loops with `ifVersion`. */
export interface Entry<V extends Value = Value> {
  key: string;
  value: V;
  version: number;
}

/** One item of a `putMany` batch. */
export interface PutManyItem {
  key: string;
  value: Value;
  /** Time to live in milliseconds. @default undefined (never expires) */
  ttl?: number;
}

/**
 * Key-value storage with TTL, namespaces and optimistic concurrency. Every stored item has a version that
 * grows with each write; `put` answers the new version.
 */
export interface KV {
  /** The backend: "memory", "redis", "memcached", "postgres". */
  readonly name: string;
  /** The namespace path of this view ("" at the root, "sessions:" below `namespace('sessions')`). */
  readonly prefix: string;
  /** The value, or undefined when absent or expired. */
  get<V extends Value = Value>(key: string): Promise<V | undefined>;
  /** The value with its version, or undefined when absent or expired. */
  getEntry<V extends Value = Value>(key: string): Promise<Entry<V> | undefined>;
  /** Stores a value; answers its new version. `aborted` / `already_exists` when a condition fails. */
  put(key: string, value: Value, options?: PutOptions): Promise<number>;
  /** Deletes a key; answers whether a live item was there. */
  del(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  /** Values in the order of `keys`, undefined for the absent ones. */
  getMany<V extends Value = Value>(keys: readonly string[]): Promise<(V | undefined)[]>;
  /** Stores every item (not atomically as a whole); answers the new versions in order. */
  putMany(items: readonly PutManyItem[]): Promise<number[]>;
  /** The live keys of this namespace that start with `prefix`, relative to the namespace. */
  keys(prefix?: string): AsyncIterable<string>;
  /** A view whose keys live under `name:`; it shares this KV's connection. */
  namespace(name: string): KV;
  /** Deletes every key of this namespace (at the root: every key of this store). */
  clear(): Promise<void>;
  /** Releases the connection (a no-op on a namespace view). Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
