import { invalidArgument } from '@micro-os/core';
import type { JsonValue, Metadata, NewRecord, OrderField, RecordUpdate, SearchQuery } from './db.js';

/** A validated search. */
export interface Search {
  metadata: Metadata;
  limit: number;
  offset: number;
  orderBy: OrderField;
  descending: boolean;
}

/** A validated update: undefined fields are kept. */
export interface Update {
  id: string;
  version: number;
  metadata: Metadata | undefined;
  data: JsonValue | undefined;
}

const maxIdLength = 512;
const maxLimit = 10_000;
const orderFields: readonly string[] = ['created', 'updated', 'id'];

export function checkId(id: unknown): string {
  if (typeof id !== 'string') throw invalidArgument(`record id must be a string, got ${typeof id}`);
  if (id === '') throw invalidArgument('record id must not be empty');
  if (id.length > maxIdLength)
    throw invalidArgument(`record id is ${id.length} characters, over ${maxIdLength}`);
  if (id.includes('\0')) throw invalidArgument('record id must not contain NUL');
  return id;
}

export function checkMetadata(metadata: unknown, what = 'metadata'): Metadata {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw invalidArgument(`${what} must be an object of string, number or boolean values`);
  }
  const out: Metadata = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (key === '' || key.includes('\0'))
      throw invalidArgument(`${what} key ${JSON.stringify(key)} is empty or has NUL`);
    const ok =
      (typeof value === 'string' && !value.includes('\0')) ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value));
    if (!ok) {
      throw invalidArgument(
        `${what}.${key} must be a string (without NUL), finite number or boolean, got ${String(value)}`,
      );
    }
    out[key] = value;
  }
  return out;
}

export function checkData(data: unknown, path = 'data', seen = new Set<object>()): JsonValue {
  switch (typeof data) {
    case 'string':
    case 'boolean':
      return data;
    case 'number':
      if (!Number.isFinite(data)) throw invalidArgument(`${path} is ${data}, not JSON`);
      return data;
    case 'object': {
      if (data === null) return null;
      if (seen.has(data)) throw invalidArgument(`${path} contains a cycle`);
      const proto: unknown = Object.getPrototypeOf(data);
      if (!Array.isArray(data) && proto !== Object.prototype && proto !== null) {
        throw invalidArgument(`${path} is a ${data.constructor?.name ?? 'object'}, not a plain JSON object`);
      }
      seen.add(data);
      const entries: [string, unknown][] = Array.isArray(data)
        ? data.map((item, i) => [`[${i}]`, item])
        : Object.entries(data).map(([key, item]) => [`.${key}`, item]);
      for (const [step, item] of entries) if (item !== undefined) checkData(item, `${path}${step}`, seen);
      seen.delete(data);
      return data as JsonValue;
    }
    default:
      throw invalidArgument(`${path} is a ${typeof data}, which is not JSON`);
  }
}

export function checkNewRecord(record: NewRecord): { id: string; metadata: Metadata; data: JsonValue } {
  if (typeof record !== 'object' || record === null) throw invalidArgument('create expects a record object');
  return {
    id: checkId(record.id),
    metadata: checkMetadata(record.metadata ?? {}),
    data: record.data === undefined ? null : checkData(record.data),
  };
}

export function checkUpdate(record: RecordUpdate): Update {
  if (typeof record !== 'object' || record === null) throw invalidArgument('update expects a record object');
  const { version } = record;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw invalidArgument(
      `update of "${String(record.id)}" needs the version read (integer >= 1), got ${String(version)}`,
    );
  }
  return {
    id: checkId(record.id),
    version,
    metadata: record.metadata === undefined ? undefined : checkMetadata(record.metadata),
    data: record.data === undefined ? undefined : checkData(record.data),
  };
}

export function checkSearch(query: SearchQuery = {}): Search {
  if (typeof query !== 'object' || query === null) throw invalidArgument('search expects a query object');
  const { limit = 100, offset = 0, orderBy = 'created', order = 'asc' } = query;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > maxLimit) {
    throw invalidArgument(`search limit must be an integer from 1 to ${maxLimit}, got ${String(limit)}`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw invalidArgument(`search offset must be an integer >= 0, got ${String(offset)}`);
  }
  if (!orderFields.includes(orderBy)) {
    throw invalidArgument(`search orderBy must be one of ${orderFields.join(', ')}, got ${String(orderBy)}`);
  }
  if (order !== 'asc' && order !== 'desc')
    throw invalidArgument(`search order must be asc or desc, got ${String(order)}`);
  return {
    metadata: checkMetadata(query.metadata ?? {}, 'search metadata'),
    limit,
    offset,
    orderBy,
    descending: order === 'desc',
  };
}
