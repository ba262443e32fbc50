/** An encoded item as a driver stores it. */
export interface StoredItem {
  data: Uint8Array;
  version: number;
}

/** A condition on a write, already validated. */
export type WriteCondition = { kind: 'none' } | { kind: 'absent' } | { kind: 'version'; version: number };

/**
 * The small contract a backend implements; `createKV` adds validation, encoding and namespaces on top.
 * Keys arrive complete (namespace included); data arrives encoded.
 */
export interface KVDriver {
  readonly name: string;
  /** Longest full key in UTF-8 bytes. */
  readonly maxKeyLength: number;
  /** Largest encoded value in bytes. */
  readonly maxValueSize: number;
  get(key: string): Promise<StoredItem | undefined>;
  getMany(keys: readonly string[]): Promise<(StoredItem | undefined)[]>;
  /** Answers the new version; throws `aborted` / `already_exists` when `condition` fails. */
  put(key: string, data: Uint8Array, ttl: number | undefined, condition: WriteCondition): Promise<number>;
  del(key: string): Promise<boolean>;
  has(key: string): Promise<boolean>;
  keys(prefix: string): AsyncIterable<string>;
  /** Deletes every key starting with `prefix` ("" = everything this driver owns). */
  clear(prefix: string): Promise<void>;
  close(): Promise<void>;
}
