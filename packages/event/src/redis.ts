import { randomUUID } from 'node:crypto';
import { deadlineSignal, isMicroError, MicroError, raceSignal } from '@micro-os/core';
import { Redis } from 'ioredis';
import {
  type CommonEventsOptions,
  type DeadLetter,
  type EventHandler,
  type EventSubscribeOptions,
  type EventSubscription,
  type Events,
  errorMessage,
  type ReplayOptions,
  resolveCommon,
  resolveSubscribe,
  runHandler,
} from './events.js';
import { checkName, checkTypes, decodeRecord, type EventRecord, type NewEvent, normalize } from './record.js';
import { redisAppend } from './redis-append.js';
import { Semaphore } from './semaphore.js';

export interface RedisEventsOptions extends CommonEventsOptions {
  /** A ready client; left open on close. Exclusive with `url`. */
  client?: Redis;
  /** A Redis URL; connected lazily and owned. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /** The stream's namespace: keys are `<prefix>:{<namespace>}:stream|dlq|id:<id>`. @default 'events' */
  namespace?: string;
  /** Key prefix. @default 'micro:events' */
  prefix?: string;
  /** Trim the stream to about this many records (`MAXLEN ~`); 0 keeps everything. @default 0 */
  maxLength?: number;
  /** How often each member looks for records stuck with a dead member (XAUTOCLAIM), ms. @default min(ackWait, 5000) */
  claimInterval?: number;
}

type Entry = [id: string, fields: string[]];

const field = (fields: string[], name: string): string | undefined => {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
};

/**
 * Events on Redis Streams: one stream per namespace; publish is a script that sets the id's dedupe key
 * (`SET NX PX window`) and `XADD`s only if it was new (the publishes of one tick share one script call); consumer groups with `XREADGROUP`, `XACK` once the
 * handler resolves, local redelivery with backoff through `XCLAIM`, `XAUTOCLAIM` for records stuck with a
 * dead member after `ackWait`, and delivery counts from the pending list deciding the dead-letter stream.
 * Every key shares the hash tag `{namespace}`, so it runs on Redis Cluster.
 */
export function redisEvents(options: RedisEventsOptions = {}): Events {
  if (options.client !== undefined && options.url !== undefined)
    throw new MicroError('invalid_argument', 'redisEvents: give either client or url, not both');
  const common = resolveCommon(options);
  const namespace = checkName('namespace', options.namespace ?? 'events');
  const prefix = options.prefix ?? 'micro:events';
  if (typeof prefix !== 'string' || prefix === '' || /[{}\s]/.test(prefix))
    throw new MicroError('invalid_argument', `redisEvents: bad prefix ${JSON.stringify(prefix)}`);
  const maxLength = options.maxLength ?? 0;
  if (!(Number.isInteger(maxLength) && maxLength >= 0))
    throw new MicroError(
      'invalid_argument',
      `redisEvents: maxLength must be an integer >= 0, got ${maxLength}`,
    );
  if (options.claimInterval !== undefined && !(options.claimInterval > 0))
    throw new MicroError(
      'invalid_argument',
      `redisEvents: claimInterval must be > 0, got ${options.claimInterval}`,
    );
  const claimInterval = options.claimInterval;
  const base = `${prefix}:{${namespace}}`;
  const streamKey = `${base}:stream`;
  const dlqKey = `${base}:dlq`;
  const owned = options.client === undefined;
  let client: Redis | undefined = options.client;
  let closed = false;
  const subscriptions = new Set<EventSubscription>();

  const redis = (): Redis => {
    if (closed) throw new MicroError('failed_precondition', 'redis events is closed');
    if (client === undefined) {
      client = new Redis(options.url ?? 'redis://127.0.0.1:6379', {
        lazyConnect: true,
        maxRetriesPerRequest: 2,
        retryStrategy: (times) => Math.min(times * 100, 1000),
      });
      client.on('error', () => undefined);
    }
    return client;
  };
  const wrap = (err: unknown, what: string): MicroError =>
    isMicroError(err)
      ? err
      : new MicroError('unavailable', `redis events: ${what} failed: ${errorMessage(err)}`, { cause: err });

  /** Pages through a stream between two ids (inclusive), oldest first. */
  async function* range(
    key: string,
    start: string,
    end: string,
    signal?: AbortSignal,
  ): AsyncGenerator<Entry> {
    let from = start;
    for (;;) {
      if (signal?.aborted) return;
      const page = (await redis().xrange(key, from, end, 'COUNT', 500)) as Entry[];
      for (const entry of page) yield entry;
      if (page.length < 500) return;
      from = `(${(page[page.length - 1] as Entry)[0]}`;
    }
  }

  const append = redisAppend({ redis, streamKey, dedupeWindow: common.dedupeWindow, maxLength });

  const lastId = async (key: string): Promise<string | undefined> => {
    const [last] = (await redis().xrevrange(key, '+', '-', 'COUNT', 1)) as Entry[];
    return last?.[0];
  };

  return {
    name: 'redis',
    async publish<T>(event: NewEvent<T>, opts: { signal?: AbortSignal; timeout?: number } = {}) {
      const { record, body } = normalize(event, common);
      try {
        const storing = append(`${base}:id:${record.id}`, record.type, body);
        if (opts.signal === undefined && opts.timeout === undefined)
          return { id: record.id, duplicate: await storing };
        const { signal, done } = deadlineSignal(opts.signal, opts.timeout);
        try {
          return { id: record.id, duplicate: await raceSignal(storing, signal, 'publish') };
        } finally {
          done();
        }
      } catch (err) {
        throw wrap(err, `publish ${record.id}`);
      }
    },
    async subscribe<T>(
      types: string | readonly string[],
      handler: EventHandler<T>,
      options: EventSubscribeOptions = {},
    ): Promise<EventSubscription> {
      const o = resolveSubscribe(types, options);
      const group = o.group ?? `private-${randomUUID().slice(0, 12)}`;
      const consumer = `c-${randomUUID().slice(0, 12)}`;
      const start =
        o.from === 'new' ? '$' : o.from === 'start' ? '0' : `${o.from.getTime() - 1}-18446744073709551615`;
      try {
        await redis().xgroup('CREATE', streamKey, group, start, 'MKSTREAM');
      } catch (err) {
        if (!errorMessage(err).includes('BUSYGROUP')) throw wrap(err, `subscribe ${group}`);
      }
      const r = redis();
      const reader = r.duplicate({ lazyConnect: false, maxRetriesPerRequest: null });
      reader.on('error', () => undefined);
      const wanted = new Set(o.types);
      const slots = new Semaphore(o.concurrency);
      const timers = new Set<NodeJS.Timeout>();
      let stopped = false;

      const ack = (id: string): Promise<unknown> => r.xack(streamKey, group, id);
      const deadLetter = async (
        record: EventRecord,
        id: string,
        attempts: number,
        error: string,
      ): Promise<void> => {
        const letter: DeadLetter = { record, group, attempts, error, time: new Date().toISOString() };
        await r
          .multi()
          .xadd(dlqKey, '*', 'g', group, 'l', JSON.stringify(letter))
          .xack(streamKey, group, id)
          .exec();
      };

      const retryLater = (id: string, attempt: number): void => {
        const timer = setTimeout(
          () => {
            timers.delete(timer);
            if (stopped) return;
            // Take it back (the claim counts as the next delivery), unless someone acked or claimed it meanwhile.
            r.xclaim(streamKey, group, consumer, 0, id).then(
              (claimed) => {
                const [entry] = claimed as Entry[];
                if (entry !== undefined) void dispatch(entry, attempt + 1);
              },
              () => undefined,
            );
          },
          Math.max(0, o.backoff(attempt)),
        );
        timer.unref();
        timers.add(timer);
      };

      const handle = async ([id, fields]: Entry, attempt: number): Promise<void> => {
        const text = field(fields, 'r');
        let record: EventRecord;
        try {
          record = decodeRecord(text ?? '');
        } catch {
          await ack(id);
          return;
        }
        if (!wanted.has(record.type)) {
          await ack(id);
          return;
        }
        if (o.delivery === 'at-most-once') {
          await ack(id);
          await runHandler(handler as EventHandler<unknown>, record, { attempt, group }, o.ackWait).catch(
            () => undefined,
          );
          return;
        }
        if (attempt > o.maxAttempts) {
          await deadLetter(record, id, attempt - 1, 'delivery attempts exhausted');
          return;
        }
        try {
          await runHandler(handler as EventHandler<unknown>, record, { attempt, group }, o.ackWait);
        } catch (err) {
          if (attempt >= o.maxAttempts) await deadLetter(record, id, attempt, errorMessage(err));
          else retryLater(id, attempt);
          return;
        }
        await ack(id);
      };

      const dispatch = async (entry: Entry, attempt: number): Promise<void> => {
        await slots.acquire();
        handle(entry, attempt)
          .catch(() => undefined)
          .finally(() => slots.release());
      };

      const readLoop = (async () => {
        while (!stopped) {
          await slots.acquire();
          slots.release();
          const free = Math.max(1, o.concurrency - slots.active);
          try {
            const result = (await reader.xreadgroup(
              'GROUP',
              group,
              consumer,
              'COUNT',
              free,
              'BLOCK',
              1000,
              'STREAMS',
              streamKey,
              '>',
            )) as [string, Entry[]][] | null;
            for (const entry of result?.[0]?.[1] ?? []) await dispatch(entry, 1);
          } catch (err) {
            if (stopped) return;
            if (errorMessage(err).includes('NOGROUP')) {
              await r.xgroup('CREATE', streamKey, group, '0', 'MKSTREAM').catch(() => undefined);
            }
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        }
      })();

      const claimEvery = claimInterval ?? Math.min(o.ackWait, 5000);
      let claiming = false;
      let ticks = 0;
      // Members that died leave an entry in the group; once their records were claimed and they have been
      // silent for a minute (a live member's blocking read touches it every second), remove it.
      const forgetDeadMembers = async (): Promise<void> => {
        const members = (await r.xinfo('CONSUMERS', streamKey, group)) as (string | number)[][];
        for (const fields of members) {
          const info = new Map<string, string | number>();
          for (let i = 0; i + 1 < fields.length; i += 2)
            info.set(String(fields[i]), fields[i + 1] as string | number);
          const name = String(info.get('name'));
          if (name !== consumer && Number(info.get('pending')) === 0 && Number(info.get('idle')) > 60_000)
            await r.xgroup('DELCONSUMER', streamKey, group, name);
        }
      };
      const claim = async (): Promise<void> => {
        if (claiming || stopped) return;
        claiming = true;
        try {
          let cursor = '0-0';
          do {
            const [next, entries] = (await r.xautoclaim(
              streamKey,
              group,
              consumer,
              o.ackWait,
              cursor,
              'COUNT',
              100,
            )) as [string, Entry[], string[]?];
            cursor = next;
            const live = entries.filter((e) => e !== null && Array.isArray(e[1]));
            if (live.length > 0) {
              const first = (live[0] as Entry)[0];
              const last = (live[live.length - 1] as Entry)[0];
              const pending = (await r.xpending(
                streamKey,
                group,
                first,
                last,
                live.length * 2,
                consumer,
              )) as [string, string, number, number][];
              const counts = new Map(pending.map(([id, , , count]) => [id, count]));
              for (const entry of live) await dispatch(entry, counts.get(entry[0]) ?? 2);
            }
          } while (cursor !== '0-0' && !stopped);
          ticks += 1;
          if (ticks % 10 === 0) await forgetDeadMembers();
        } catch {
          // The server is unreachable: try again at the next tick.
        } finally {
          claiming = false;
        }
      };
      const claimer = setInterval(() => void claim(), claimEvery);
      claimer.unref();

      const subscription: EventSubscription = {
        group,
        async close() {
          if (!subscriptions.delete(subscription)) return;
          stopped = true;
          clearInterval(claimer);
          for (const timer of timers) clearTimeout(timer);
          reader.disconnect();
          await readLoop;
          await slots.drain(o.ackWait);
          if (closed && owned) return;
          try {
            if (o.group === undefined) await r.xgroup('DESTROY', streamKey, group);
            else {
              // Forget this member unless it still holds records (they stay pending for XAUTOCLAIM).
              const mine = (await r.xpending(streamKey, group, '-', '+', 1, consumer)) as unknown[];
              if (mine.length === 0) await r.xgroup('DELCONSUMER', streamKey, group, consumer);
            }
          } catch {
            // Best effort: a leftover consumer entry only costs memory.
          }
        },
        async [Symbol.asyncDispose]() {
          await this.close();
        },
      };
      subscriptions.add(subscription);
      return subscription;
    },
    async *replay(types: string | readonly string[], opts: ReplayOptions = {}) {
      const wanted = new Set(checkTypes(types));
      try {
        const end = opts.to === undefined ? await lastId(streamKey) : `${opts.to.getTime() - 1}`;
        if (end === undefined || end.startsWith('-')) return;
        const start = opts.from === undefined ? '-' : `${opts.from.getTime()}`;
        for await (const [, fields] of range(streamKey, start, end, opts.signal)) {
          if (!wanted.has(field(fields, 't') ?? '')) continue;
          yield decodeRecord(field(fields, 'r') ?? '');
        }
      } catch (err) {
        throw wrap(err, 'replay');
      }
    },
    async *deadLetters(opts: { group?: string; signal?: AbortSignal } = {}) {
      if (opts.group !== undefined) checkName('consumer group', opts.group);
      try {
        const end = await lastId(dlqKey);
        if (end === undefined) return;
        for await (const [, fields] of range(dlqKey, '-', end, opts.signal)) {
          if (opts.group !== undefined && field(fields, 'g') !== opts.group) continue;
          yield JSON.parse(field(fields, 'l') ?? 'null') as DeadLetter;
        }
      } catch (err) {
        throw wrap(err, 'deadLetters');
      }
    },
    async close() {
      if (closed) return;
      for (const sub of [...subscriptions]) await sub.close();
      closed = true;
      if (owned) client?.disconnect();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
