import { randomUUID } from 'node:crypto';
import { deadlineSignal, isMicroError, MicroError, raceSignal } from '@micro-os/core';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
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
import { Semaphore } from './semaphore.js';

export interface NatsEventsOptions extends CommonEventsOptions {
  /** A ready connection; left open on close. Exclusive with `url`. */
  connection?: NatsConnection;
  /** NATS server URL(s); connected lazily and owned. @default 'nats://127.0.0.1:4222' */
  url?: string | string[];
  /** The JetStream stream (one per namespace); subjects are `evt.<namespace>.e.<type>` and `evt.<namespace>.dlq.<group>`. @default 'events' */
  namespace?: string;
  /** Longest a record is kept, ms; 0 keeps them until the stream limits say otherwise. @default 0 */
  maxAge?: number;
}

const ms = (value: number): number => Math.round(value * 1_000_000);

/**
 * Events on NATS JetStream: one stream per namespace, `Nats-Msg-Id` dedupe inside the stream's duplicate
 * window, a durable pull consumer per group (explicit acks, `ack_wait`), `nak(backoff)` for redelivery, and
 * after `maxAttempts` deliveries (counted by the server) the record is published to the dead-letter subject
 * and terminated.
 */
export function natsEvents(options: NatsEventsOptions = {}): Events {
  if (options.connection !== undefined && options.url !== undefined)
    throw new MicroError('invalid_argument', 'natsEvents: give either connection or url, not both');
  const common = resolveCommon(options);
  const namespace = checkName('namespace', options.namespace ?? 'events');
  const maxAge = options.maxAge ?? 0;
  if (!(Number.isFinite(maxAge) && maxAge >= 0))
    throw new MicroError('invalid_argument', `natsEvents: maxAge must be >= 0 ms, got ${maxAge}`);
  const prefix = `evt.${namespace}`;
  const owned = options.connection === undefined;
  let conn: Promise<NatsConnection> | undefined;
  let ready: Promise<{ js: JetStreamClient; jsm: JetStreamManager }> | undefined;
  /** The set-up clients once `ready` has resolved. */
  let client: { js: JetStreamClient; jsm: JetStreamManager } | undefined;
  let closed = false;
  const subscriptions = new Set<EventSubscription>();

  const connection = (): Promise<NatsConnection> => {
    conn ??=
      options.connection !== undefined
        ? Promise.resolve(options.connection)
        : connect({
            servers: options.url ?? 'nats://127.0.0.1:4222',
            reconnectTimeWait: 250,
            maxReconnectAttempts: -1,
            // No call-site stack captured per request (two Error objects per publish, a third of its CPU): our
            // errors are MicroErrors naming the operation, with the driver's error as cause.
            noAsyncTraces: true,
          });
    conn.catch(() => {
      conn = undefined;
    });
    return conn;
  };
  const wrap = (err: unknown, what: string): MicroError =>
    isMicroError(err)
      ? err
      : new MicroError('unavailable', `nats events: ${what} failed: ${errorMessage(err)}`, { cause: err });

  const setup = (): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> => {
    if (closed) return Promise.reject(new MicroError('failed_precondition', 'nats events is closed'));
    ready ??= (async () => {
      const nc = await connection();
      const jsm = await jetstreamManager(nc);
      const config = {
        name: namespace,
        subjects: [`${prefix}.e.>`, `${prefix}.dlq.>`],
        duplicate_window: ms(common.dedupeWindow),
        max_age: ms(maxAge),
        max_msg_size: common.maxRecordBytes + 4096,
      };
      try {
        await jsm.streams.info(namespace);
      } catch {
        await jsm.streams.add(config).catch(async (err: unknown) => {
          // Another process created it first.
          await jsm.streams.info(namespace).catch(() => {
            throw err;
          });
        });
      }
      client = { js: jetstream(nc), jsm };
      return client;
    })();
    ready.catch(() => {
      ready = undefined;
    });
    return ready;
  };

  const filterFor = (types: string[]): string =>
    types.length === 1 ? `${prefix}.e.${types[0]}` : `${prefix}.e.>`;

  /** Reads a subject range with an ordered consumer, from now-stored records only. */
  async function* read(
    filter: string,
    opts: { from?: Date; to?: Date; signal?: AbortSignal },
  ): AsyncGenerator<JsMsg> {
    const { js } = await setup();
    const consumer = await js.consumers.get(namespace, {
      filter_subjects: filter,
      ...(opts.from === undefined
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.from.toISOString() }),
    });
    const info = await consumer.info(true);
    if (info.num_pending === 0) {
      await consumer.delete().catch(() => undefined);
      return;
    }
    const messages = await consumer.consume({ max_messages: 256 });
    const stop = (): void => void messages.stop();
    opts.signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const m of messages) {
        if (opts.to !== undefined && m.time.getTime() >= opts.to.getTime()) break;
        yield m;
        if (m.info.pending === 0) break;
      }
    } finally {
      opts.signal?.removeEventListener('abort', stop);
      messages.stop();
      await consumer.delete().catch(() => undefined);
    }
  }

  return {
    name: 'nats',
    async publish<T>(event: NewEvent<T>, opts: { signal?: AbortSignal; timeout?: number } = {}) {
      const { record, body } = normalize(event, common);
      const subject = `${prefix}.e.${record.type}`;
      try {
        if (opts.signal === undefined && opts.timeout === undefined) {
          // The hot path: no signal to race, the stream already set up.
          const { js } = client ?? (await setup());
          const ack = await js.publish(subject, body, { msgID: record.id });
          return { id: record.id, duplicate: ack.duplicate };
        }
        const { signal, done } = deadlineSignal(opts.signal, opts.timeout);
        try {
          const { js } = await raceSignal(setup(), signal, 'publish');
          const publishing = js.publish(subject, body, {
            msgID: record.id,
            ...(opts.timeout === undefined ? {} : { timeout: opts.timeout }),
          });
          const ack = await raceSignal(publishing, signal, 'publish');
          return { id: record.id, duplicate: ack.duplicate };
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
      let consumerName = group;
      let js: JetStreamClient;
      let jsm: JetStreamManager;
      try {
        ({ js, jsm } = await setup());
        const config: Partial<ConsumerConfig> = {
          ack_policy: AckPolicy.Explicit,
          filter_subject: filterFor(o.types),
          ack_wait: ms(o.ackWait),
          max_deliver: -1,
          max_ack_pending: Math.max(1000, o.concurrency * 4),
          ...(o.from === 'new'
            ? { deliver_policy: DeliverPolicy.New }
            : o.from === 'start'
              ? { deliver_policy: DeliverPolicy.All }
              : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: o.from.toISOString() }),
        };
        if (o.group === undefined) {
          const info = await jsm.consumers.add(namespace, { ...config, inactive_threshold: ms(60_000) });
          consumerName = info.name;
        } else {
          // Only "no such consumer" means absent; any other failure (a timeout, a lost connection) is reported.
          const exists = await jsm.consumers.info(namespace, group).then(
            () => true,
            (err: unknown) => {
              if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)
                return false;
              throw err;
            },
          );
          if (!exists) await jsm.consumers.add(namespace, { ...config, durable_name: group });
        }
      } catch (err) {
        throw wrap(err, `subscribe ${group}`);
      }
      let messages: ConsumerMessages;
      try {
        const consumer = await js.consumers.get(namespace, consumerName);
        messages = await consumer.consume({ max_messages: o.concurrency });
      } catch (err) {
        throw wrap(err, `subscribe ${group}`);
      }
      const slots = new Semaphore(o.concurrency);
      const wanted = new Set(o.types);

      const deadLetter = async (record: EventRecord, attempts: number, error: string): Promise<void> => {
        const letter: DeadLetter = { record, group, attempts, error, time: new Date().toISOString() };
        await js.publish(`${prefix}.dlq.${group}`, JSON.stringify(letter), {
          msgID: `${group}:${record.id}`,
        });
      };

      const handle = async (m: JsMsg): Promise<void> => {
        let record: EventRecord;
        try {
          record = decodeRecord(m.string());
        } catch (err) {
          m.term(errorMessage(err));
          return;
        }
        if (!wanted.has(record.type)) return m.ack();
        const attempt = m.info.deliveryCount;
        if (o.delivery === 'at-most-once') {
          m.ack();
          await runHandler(handler as EventHandler<unknown>, record, { attempt, group }, o.ackWait).catch(
            () => undefined,
          );
          return;
        }
        if (attempt > o.maxAttempts) {
          // Delivered again after its last attempt (the member handling it died): dead-letter it unhandled.
          await deadLetter(record, attempt - 1, 'delivery attempts exhausted');
          m.term('maxAttempts');
          return;
        }
        try {
          await runHandler(handler as EventHandler<unknown>, record, { attempt, group }, o.ackWait);
          m.ack();
        } catch (err) {
          if (attempt >= o.maxAttempts) {
            await deadLetter(record, attempt, errorMessage(err));
            m.term('maxAttempts');
          } else m.nak(Math.max(0, Math.round(o.backoff(attempt))));
        }
      };

      const loop = (async () => {
        for await (const m of messages) {
          await slots.acquire();
          handle(m)
            .catch(() => m.nak(1000))
            .finally(() => slots.release());
        }
      })().catch(() => undefined);

      const subscription: EventSubscription = {
        group,
        async close() {
          if (!subscriptions.delete(subscription)) return;
          messages.stop();
          await loop;
          await slots.drain(o.ackWait);
          if (o.group === undefined)
            await jsm.consumers.delete(namespace, consumerName).catch(() => undefined);
        },
        async [Symbol.asyncDispose]() {
          await this.close();
        },
      };
      subscriptions.add(subscription);
      return subscription;
    },
    async *replay(types: string | readonly string[], opts: ReplayOptions = {}) {
      const list = checkTypes(types);
      const wanted = new Set(list);
      const to = opts.to ?? new Date(Date.now() + 1);
      try {
        for await (const m of read(filterFor(list), { ...opts, to })) {
          const record = decodeRecord(m.string());
          if (wanted.has(record.type)) yield record;
        }
      } catch (err) {
        throw wrap(err, 'replay');
      }
    },
    async *deadLetters(opts: { group?: string; signal?: AbortSignal } = {}) {
      if (opts.group !== undefined) checkName('consumer group', opts.group);
      const filter = `${prefix}.dlq.${opts.group ?? '>'}`;
      try {
        for await (const m of read(filter, opts)) yield JSON.parse(m.string()) as DeadLetter;
      } catch (err) {
        throw wrap(err, 'deadLetters');
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const sub of [...subscriptions]) await sub.close();
      if (owned && conn !== undefined) await (await conn.catch(() => undefined))?.close();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
