export { createDB } from './create-db.js';
export type {
  DB,
  DBRecord,
  JsonValue,
  Metadata,
  MetadataValue,
  NewRecord,
  OrderField,
  RecordUpdate,
  SearchQuery,
} from './db.js';
export type { DBDriver } from './driver.js';
export { memoryDB } from './memory.js';
export type { Search, Update } from './validate.js';
