import { alreadyExists, createDB, notFound, versionMismatch } from './create-db.js';
import type { DB, DBRecord } from './db.js';
import { matches, orderAndPage } from './order.js';

/** An in-process DB for one process and for tests; records are copied in and out. */
export function memoryDB(): DB {
  const records = new Map<string, DBRecord>();
  /** Timestamps never go backwards, even when the wall clock does. */
  let last = 0;
  const now = (): number => {
    last = Math.max(Date.now(), last);
    return last;
  };
  const get = (id: string): DBRecord => {
    const record = records.get(id);
    if (record === undefined) throw notFound(id);
    return record;
  };
  return createDB({
    name: 'memory',
    async create({ id, metadata, data }) {
      if (records.has(id)) throw alreadyExists(id);
      const time = now();
      const record = structuredClone({ id, created: time, updated: time, version: 1, metadata, data });
      records.set(id, record);
      return structuredClone(record);
    },
    async read(id) {
      return structuredClone(get(id));
    },
    async update({ id, version, metadata, data }) {
      const current = get(id);
      if (current.version !== version) throw versionMismatch(id, version, current.version);
      const record: DBRecord = structuredClone({
        ...current,
        updated: now(),
        version: version + 1,
        metadata: metadata ?? current.metadata,
        data: data === undefined ? current.data : data,
      });
      records.set(id, record);
      return structuredClone(record);
    },
    async delete(id) {
      get(id);
      records.delete(id);
    },
    async search(query) {
      const found = [...records.values()].filter((r) => matches(r.metadata, query.metadata));
      return orderAndPage(found, query).map((r) => structuredClone(r));
    },
    async close() {
      records.clear();
    },
  });
}
