import { MicroError } from '@micro-os/core';
import type { DB, DBRecord, JsonValue, NewRecord, RecordUpdate, SearchQuery } from './db.js';
import type { DBDriver } from './driver.js';
import { checkId, checkNewRecord, checkSearch, checkUpdate } from './validate.js';

/** Turns a driver into a `DB`, validating every input once for all backends. */
export function createDB(driver: DBDriver): DB {
  let closed = false;
  const open = (): void => {
    if (closed) throw new MicroError('failed_precondition', `${driver.name} db is closed`);
  };
  const db: DB = {
    name: driver.name,
    async create<D extends JsonValue>(record: NewRecord<D>) {
      open();
      return (await driver.create(checkNewRecord(record))) as DBRecord<D>;
    },
    async read<D extends JsonValue>(id: string) {
      open();
      return (await driver.read(checkId(id))) as DBRecord<D>;
    },
    async update<D extends JsonValue>(record: RecordUpdate<D>) {
      open();
      return (await driver.update(checkUpdate(record))) as DBRecord<D>;
    },
    async delete(id) {
      open();
      await driver.delete(checkId(id));
    },
    async search<D extends JsonValue>(query?: SearchQuery) {
      open();
      return (await driver.search(checkSearch(query))) as DBRecord<D>[];
    },
    async close() {
      if (closed) return;
      closed = true;
      await driver.close();
    },
    async [Symbol.asyncDispose]() {
      await db.close();
    },
  };
  return db;
}

/** The error for a missing record. */
export function notFound(id: string): MicroError {
  return new MicroError('not_found', `record "${id}" not found`, { details: { id } });
}

export function alreadyExists(id: string): MicroError {
  return new MicroError('already_exists', `record "${id}" already exists`, { details: { id } });
}

export function versionMismatch(id: string, expected: number, actual?: number): MicroError {
  return new MicroError(
    'aborted',
    `record "${id}" is at version ${actual ?? 'another'}, not ${expected}: it changed since it was read`,
    { details: actual === undefined ? { id, expected } : { id, expected, actual } },
  );
}
