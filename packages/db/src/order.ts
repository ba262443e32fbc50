import type { DBRecord, Metadata } from './db.js';
import type { Search } from './validate.js';

/** Whether `metadata` holds every pair of `filter`, with the same type and value. */
export function matches(metadata: Metadata, filter: Metadata): boolean {
  for (const [key, value] of Object.entries(filter)) if (metadata[key] !== value) return false;
  return true;
}

/** Sorts and pages records in memory the way every backend orders them: by field, then by id. */
export function orderAndPage(records: DBRecord[], query: Search): DBRecord[] {
  const sign = query.descending ? -1 : 1;
  // Byte order of the UTF-8 ids, as Postgres (COLLATE "C") and Redis compare them.
  const byId = (a: DBRecord, b: DBRecord): number => Buffer.compare(Buffer.from(a.id), Buffer.from(b.id));
  const compare = (a: DBRecord, b: DBRecord): number => {
    const primary = query.orderBy === 'id' ? 0 : a[query.orderBy] - b[query.orderBy];
    return sign * (primary !== 0 ? primary : byId(a, b));
  };
  return records.sort(compare).slice(query.offset, query.offset + query.limit);
}
