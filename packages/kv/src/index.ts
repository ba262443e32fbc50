export { createKV } from './create-kv.js';
export type { KVDriver, StoredItem, WriteCondition } from './driver.js';
export type { Entry, JsonValue, KV, PutManyItem, PutOptions, Value } from './kv.js';
export type { MemoryKVOptions } from './memory.js';
export { memoryKV } from './memory.js';
