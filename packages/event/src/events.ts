import { type Backoff, exponentialBackoff, invalidArgument } from '@micro-os/core';
import { checkName, checkTypes, type EventRecord, type NewEvent } from './record.js';

/** What the backend answered to a publish. */
export interface PublishAck {
  id: string;
  /** True when the id was already stored inside the dedupe window; the record was not stored again. */
  duplicate: boolean;
}

/** Facts about one delivery of a record to a handler. */
export interface Delivery {
  /** 1 on the first delivery, 2 on the first redelivery... */
  attempt: number;
  group: string;
}

export type EventHandler<T = unknown> = (record: EventRecord<T>, delivery: Delivery) => Promise<void> | void;

export interface EventSubscribeOptions {
  /**
   * Durable consumer group: each record goes to one member, every group gets every record, and the group
   * resumes where it stopped. Without it the subscription is private and ends with `close()`.
   */
  group?: string;
  /** Where a new group starts: only records published from now, every retained record, or a time. @default 'new' */
  from?: 'new' | 'start' | Date;
  /** Deliveries of one record before it goes to the dead-letter stream. @default 5 */
  maxAttempts?: number;
  /** Delay before a redelivery after a handler throws, ms or a function of the attempt. @default exponential, 100 ms to 5 s */
  backoff?: number | Backoff;
  /** A handler that has not settled after this many ms is taken as failed and the record redelivered. @default 30000 */
  ackWait?: number;
  /** Records handled at once by this member. @default 16 */
  concurrency?: number;
  /** `at-least-once` (ack after the handler) or `at-most-once`; backends that cannot redeliver refuse the first. @default 'at-least-once' */
  delivery?: 'at-least-once' | 'at-most-once';
}

export interface EventSubscription {
  readonly group: string;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface ReplayOptions {
  /** From this time (stored time), inclusive. @default the first retained record */
  from?: Date;
  /** Up to this time, exclusive. @default the records stored when replay started */
  to?: Date;
  signal?: AbortSignal;
}

/** A record that failed `maxAttempts` times in a group. */
export interface DeadLetter {
  record: EventRecord;
  group: string;
  attempts: number;
  /** The last handler error's message. */
  error: string;
  /** When it was dead-lettered, RFC 3339. */
  time: string;
}

/** Durable event records: publish, consumer groups with redelivery and dead letters, replay. */
export interface Events {
  readonly name: string;
  /** Stores the record (acknowledged by the backend) and returns its id. */
  publish<T>(event: NewEvent<T>, options?: { signal?: AbortSignal; timeout?: number }): Promise<PublishAck>;
  subscribe<T>(
    types: string | readonly string[],
    handler: EventHandler<T>,
    options?: EventSubscribeOptions,
  ): Promise<EventSubscription>;
  /** The stored records of these types, oldest first; ends at `to` or at the end of the stream when called. */
  replay(types: string | readonly string[], options?: ReplayOptions): AsyncIterable<EventRecord>;
  /** The dead-letter stream, oldest first (optionally one group's); ends at its current end. */
  deadLetters(options?: { group?: string; signal?: AbortSignal }): AsyncIterable<DeadLetter>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Subscribe options with defaults applied. */
export interface ResolvedSubscribe {
  types: string[];
  group: string | undefined;
  from: 'new' | 'start' | Date;
  maxAttempts: number;
  backoff: Backoff;
  ackWait: number;
  concurrency: number;
  delivery: 'at-least-once' | 'at-most-once';
}

const defaultBackoff = exponentialBackoff({ base: 100, max: 5000 });

export function resolveSubscribe(
  types: string | readonly string[],
  options: EventSubscribeOptions,
): ResolvedSubscribe {
  const list = checkTypes(types);
  if (options.group !== undefined) checkName('consumer group', options.group);
  const from = options.from ?? 'new';
  if (from !== 'new' && from !== 'start' && !(from instanceof Date && !Number.isNaN(from.getTime())))
    throw invalidArgument(`from must be 'new', 'start' or a valid Date, got ${String(from)}`);
  const maxAttempts = options.maxAttempts ?? 5;
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1))
    throw invalidArgument(`maxAttempts must be an integer >= 1, got ${maxAttempts}`, { maxAttempts });
  const ackWait = options.ackWait ?? 30_000;
  if (!(Number.isFinite(ackWait) && ackWait > 0))
    throw invalidArgument(`ackWait must be > 0 ms, got ${ackWait}`, { ackWait });
  const concurrency = options.concurrency ?? 16;
  if (!(Number.isInteger(concurrency) && concurrency >= 1))
    throw invalidArgument(`concurrency must be an integer >= 1, got ${concurrency}`);
  const delivery = options.delivery ?? 'at-least-once';
  if (delivery !== 'at-least-once' && delivery !== 'at-most-once')
    throw invalidArgument(`delivery must be 'at-least-once' or 'at-most-once', got ${String(delivery)}`);
  let backoff: Backoff = defaultBackoff;
  if (typeof options.backoff === 'number') {
    const ms = options.backoff;
    if (!(Number.isFinite(ms) && ms >= 0)) throw invalidArgument(`backoff must be >= 0 ms, got ${ms}`);
    backoff = () => ms;
  } else if (typeof options.backoff === 'function') backoff = options.backoff;
  else if (options.backoff !== undefined)
    throw invalidArgument('backoff must be a number of ms or a function');
  return { types: list, group: options.group, from, maxAttempts, backoff, ackWait, concurrency, delivery };
}

export interface CommonEventsOptions {
  /** `source` of records published without one. @default 'micro-os' */
  source?: string;
  /** Largest encoded record, bytes. @default 1 MiB - 4 KiB (under NATS's default max payload) */
  maxRecordBytes?: number;
  /** A repeated id inside this window (ms) is stored once. @default 120000 */
  dedupeWindow?: number;
}

export interface ResolvedCommon {
  source: string;
  maxRecordBytes: number;
  dedupeWindow: number;
}

export function resolveCommon(options: CommonEventsOptions): ResolvedCommon {
  const source = options.source ?? 'micro-os';
  if (typeof source !== 'string' || source === '') throw invalidArgument('source must be a non-empty string');
  const maxRecordBytes = options.maxRecordBytes ?? 1024 * 1024 - 4096;
  if (!(Number.isInteger(maxRecordBytes) && maxRecordBytes > 0))
    throw invalidArgument(`maxRecordBytes must be a positive integer, got ${maxRecordBytes}`);
  const dedupeWindow = options.dedupeWindow ?? 120_000;
  if (!(Number.isFinite(dedupeWindow) && dedupeWindow > 0))
    throw invalidArgument(`dedupeWindow must be > 0 ms, got ${dedupeWindow}`);
  return { source, maxRecordBytes, dedupeWindow };
}

/** Runs a handler with the ackWait limit: a handler that has not settled by then counts as failed. */
export function runHandler<T>(
  handler: EventHandler<T>,
  record: EventRecord<T>,
  delivery: Delivery,
  ackWait: number,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`handler did not finish within ackWait ${ackWait} ms`)),
      ackWait,
    );
    timer.unref();
    Promise.resolve()
      .then(() => handler(record, delivery))
      .then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
  });
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
