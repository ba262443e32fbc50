/** A JSON value, as record data carries it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A metadata value: what search can match on by equality. */
export type MetadataValue = string | number | boolean;

export type Metadata = Record<string, MetadataValue>;

/** A stored record. Times are epoch milliseconds; `version` grows by one with every update. */
export interface DBRecord<D extends JsonValue = JsonValue> {
  id: string;
  created: number;
  updated: number;
  version: number;
  metadata: Metadata;
  data: D;
}

/** What `create` takes. */
export interface NewRecord<D extends JsonValue = JsonValue> {
  id: string;
  /** @default {} */
  metadata?: Metadata;
  /** @default null */
  data?: D;
}

/** What `update` takes: the version read, and the fields to replace (omitted ones are kept). */
export interface RecordUpdate<D extends JsonValue = JsonValue> {
  id: string;
  version: number;
  metadata?: Metadata;
  data?: D;
}

export type OrderField = 'created' | 'updated' | 'id';

export interface SearchQuery {
  /** Records whose metadata has every one of these key/value pairs (same type, same value). @default {} */
  metadata?: Metadata;
  /** At most this many records, 1..10000. @default 100 */
  limit?: number;
  /** Skip this many first. @default 0 */
  offset?: number;
  /** Sort field; ties are broken by id in the same direction. @default "created" */
  orderBy?: OrderField;
  /** @default "asc" */
  order?: 'asc' | 'desc';
}

/** Records with metadata, optimistic updates and metadata search (the go-os db). */
export interface DB {
  /** The backend: "memory", "postgres", "redis". */
  readonly name: string;
  /** Stores a new record at version 1; `already_exists` when the id is taken. */
  create<D extends JsonValue = JsonValue>(record: NewRecord<D>): Promise<DBRecord<D>>;
  /** The record; `not_found` when missing. */
  read<D extends JsonValue = JsonValue>(id: string): Promise<DBRecord<D>>;
  /** Replaces metadata and/or data if `version` is current: `aborted` if not, `not_found` if missing. */
  update<D extends JsonValue = JsonValue>(record: RecordUpdate<D>): Promise<DBRecord<D>>;
  /** Deletes the record; `not_found` when missing. */
  delete(id: string): Promise<void>;
  /** Records matching every metadata pair, in order, paged. */
  search<D extends JsonValue = JsonValue>(query?: SearchQuery): Promise<DBRecord<D>[]>;
  /** Releases the connection. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
