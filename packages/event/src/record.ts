import { randomUUID } from 'node:crypto';
import { invalidArgument, MicroError } from '@micro-os/core';

/** An event record. Field names follow CloudEvents, so `toCloudEvent()` is a rename of nothing. */
export interface EventRecord<T = unknown> {
  /** Unique per source; a repeated id inside the dedupe window is stored once. */
  id: string;
  /** Dot-separated name of what happened, e.g. `order.created`. */
  type: string;
  /** Who emitted it, e.g. `/orders` or `service:orders`. */
  source: string;
  /** When it happened, RFC 3339. */
  time: string;
  /** What it is about inside the source, e.g. `orders/42`. */
  subject?: string;
  /** The id of the record that started the chain this one belongs to. */
  rootId?: string;
  metadata: Record<string, string>;
  data: T;
}

/** What `publish` takes: `id`, `time`, `source` and `metadata` are filled in when missing. */
export type NewEvent<T = unknown> = Omit<EventRecord<T>, 'id' | 'time' | 'source' | 'metadata'> & {
  id?: string;
  time?: string | Date;
  source?: string;
  metadata?: Record<string, string>;
};

/** A CloudEvents 1.0 JSON object. */
export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  type: string;
  source: string;
  time: string;
  subject?: string;
  datacontenttype: 'application/json';
  data: T;
  /** Extension attributes: `rootid`, and every metadata entry with its key reduced to [a-z0-9]. */
  [extension: string]: unknown;
}

/** The record as a CloudEvents 1.0 JSON object (metadata and rootId become extension attributes). */
export function toCloudEvent<T>(record: EventRecord<T>): CloudEvent<T> {
  const event: CloudEvent<T> = {
    specversion: '1.0',
    id: record.id,
    type: record.type,
    source: record.source,
    time: record.time,
    datacontenttype: 'application/json',
    data: record.data,
  };
  if (record.subject !== undefined) event.subject = record.subject;
  if (record.rootId !== undefined) event.rootid = record.rootId;
  for (const [key, value] of Object.entries(record.metadata)) {
    const name = key.toLowerCase().replace(/[^a-z0-9]/g, '');
    if (name !== '' && !(name in event)) event[name] = value;
  }
  return event;
}

const typePattern = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const namePattern = /^[A-Za-z0-9_-]+$/;

/** Event types are dot-separated segments of letters, digits, '_' and '-': no spaces, no wildcards. */
export function checkType(type: unknown): string {
  if (typeof type !== 'string' || type.length === 0 || type.length > 255 || !typePattern.test(type)) {
    throw invalidArgument(
      `invalid event type ${JSON.stringify(type)}: use letters, digits, '_' and '-' in segments joined by '.', no spaces or wildcards`,
      { type },
    );
  }
  return type;
}

/** Stream, namespace and consumer group names: letters, digits, '_' and '-' (no '.', '*', '>', '/'). */
export function checkName(kind: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64 || !namePattern.test(value)) {
    throw invalidArgument(
      `invalid ${kind} name ${JSON.stringify(value)}: use letters, digits, '_' and '-' only (no '.', '*', '>', '/' or spaces), at most 64 characters`,
      { [kind]: value },
    );
  }
  return value;
}

const idPattern = /^[^\s\p{Cc}]+$/u;

/** Record ids: 1-256 characters, no whitespace or control characters. */
function checkId(id: unknown): string {
  if (typeof id === 'string' && id.length > 0 && id.length <= 256 && idPattern.test(id)) return id;
  throw invalidArgument(`invalid event id ${JSON.stringify(id)}: 1-256 characters, no spaces`, { id });
}

export function checkTypes(types: string | readonly string[]): string[] {
  const list = typeof types === 'string' ? [types] : [...types];
  if (list.length === 0) throw invalidArgument('at least one event type is needed');
  for (const type of list) checkType(type);
  return [...new Set(list)];
}

/** Validates a new record, fills in its defaults and returns it with its encoded size checked. */
export function normalize<T>(
  input: NewEvent<T>,
  defaults: { source: string; maxRecordBytes: number },
): { record: EventRecord<T>; body: string } {
  if (typeof input !== 'object' || input === null) throw invalidArgument('event must be an object');
  checkType(input.type);
  const id = input.id === undefined ? randomUUID() : checkId(input.id);
  const source = input.source ?? defaults.source;
  if (typeof source !== 'string' || source.length === 0)
    throw invalidArgument(`invalid event source ${JSON.stringify(source)}: must be a non-empty string`);
  if (input.subject !== undefined && (typeof input.subject !== 'string' || !/^[^\s*>]+$/.test(input.subject)))
    throw invalidArgument(
      `invalid event subject ${JSON.stringify(input.subject)}: must be non-empty, without spaces or wildcards ('*', '>')`,
      { subject: input.subject },
    );
  if (input.rootId !== undefined && (typeof input.rootId !== 'string' || input.rootId.length === 0))
    throw invalidArgument(`invalid rootId ${JSON.stringify(input.rootId)}`);
  const time = input.time === undefined ? new Date() : new Date(input.time);
  if (Number.isNaN(time.getTime())) throw invalidArgument(`invalid event time ${JSON.stringify(input.time)}`);
  const metadata: Record<string, string> = {};
  if (input.metadata !== undefined)
    for (const [key, value] of Object.entries(input.metadata)) {
      if (typeof value !== 'string') throw invalidArgument(`event metadata ${key} must be a string`);
      metadata[key] = value;
    }
  const record: EventRecord<T> = {
    id,
    type: input.type,
    source,
    time: time.toISOString(),
    metadata,
    data: input.data,
  };
  if (input.subject !== undefined) record.subject = input.subject;
  if (input.rootId !== undefined) record.rootId = input.rootId;
  let body: string;
  try {
    body = JSON.stringify(record);
  } catch (cause) {
    throw new MicroError(
      'invalid_argument',
      `event data cannot be encoded as JSON: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most records need no byte count.
  const size = body.length * 3 <= defaults.maxRecordBytes ? body.length : Buffer.byteLength(body);
  if (size > defaults.maxRecordBytes) {
    throw invalidArgument(`event ${id} is ${size} bytes, over the maximum of ${defaults.maxRecordBytes}`, {
      size,
      max: defaults.maxRecordBytes,
    });
  }
  return { record, body };
}

export function decodeRecord(text: string): EventRecord {
  try {
    const record = JSON.parse(text) as EventRecord;
    if (typeof record?.id !== 'string' || typeof record.type !== 'string') throw new Error('not a record');
    return record;
  } catch (cause) {
    throw new MicroError('internal', `malformed event record: ${text.slice(0, 80)}`, { cause });
  }
}
