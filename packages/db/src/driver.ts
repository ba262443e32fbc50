import type { DBRecord, JsonValue, Metadata } from './db.js';
import type { Search, Update } from './validate.js';

/** What a backend implements; `createDB` validates every input before it reaches the driver. */
export interface DBDriver {
  readonly name: string;
  create(record: { id: string; metadata: Metadata; data: JsonValue }): Promise<DBRecord>;
  read(id: string): Promise<DBRecord>;
  update(record: Update): Promise<DBRecord>;
  delete(id: string): Promise<void>;
  search(query: Search): Promise<DBRecord[]>;
  close(): Promise<void>;
}
