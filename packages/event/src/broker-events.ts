import { type Broker, jsonCodec, MicroError, type Subscription } from '@micro-os/core';
import {
  type CommonEventsOptions,
  type EventHandler,
  type EventSubscribeOptions,
  type EventSubscription,
  type Events,
  resolveCommon,
  resolveSubscribe,
  runHandler,
} from './events.js';
import { decodeRecord, type NewEvent, normalize } from './record.js';

/**
 * Events over a core `Broker` (plain Redis pub/sub, core NATS, memory): at most once and nothing stored.
 * Subscriptions must ask for `delivery: 'at-most-once'`; asking for at-least-once (the default) is refused
 * with `failed_precondition`, and `replay`/`deadLetters` answer `unimplemented`. Publishing does not dedupe.
 */
export function brokerEvents(broker: Broker, options: CommonEventsOptions = {}): Events {
  const common = resolveCommon(options);
  const subscriptions = new Set<Subscription>();
  const unimplemented = (what: string): MicroError =>
    new MicroError('unimplemented', `${what} needs a stored stream; broker ${broker.name} keeps nothing`);
  return {
    name: `broker(${broker.name})`,
    async publish<T>(event: NewEvent<T>) {
      const { record, body } = normalize(event, common);
      await broker.publish(`events.${record.type}`, {
        contentType: jsonCodec.contentType,
        metadata: {},
        body: new TextEncoder().encode(body),
      });
      return { id: record.id, duplicate: false };
    },
    async subscribe<T>(
      types: string | readonly string[],
      handler: EventHandler<T>,
      options: EventSubscribeOptions = {},
    ): Promise<EventSubscription> {
      const o = resolveSubscribe(types, options);
      if (o.delivery !== 'at-most-once') {
        throw new MicroError(
          'failed_precondition',
          `broker ${broker.name} delivers at most once: it cannot redeliver or keep a group's place; use natsEvents or redisEvents, or pass delivery: 'at-most-once'`,
          { details: { broker: broker.name, delivery: o.delivery } },
        );
      }
      const group = o.group ?? 'private';
      const mine: Subscription[] = [];
      for (const type of o.types) {
        const sub = await broker.subscribe(
          `events.${type}`,
          async (message) => {
            const record = decodeRecord(new TextDecoder().decode(message.body));
            await runHandler(
              handler as EventHandler<unknown>,
              record,
              { attempt: 1, group },
              o.ackWait,
            ).catch(() => undefined);
          },
          { queue: o.group },
        );
        mine.push(sub);
        subscriptions.add(sub);
      }
      const subscription: EventSubscription = {
        group,
        async close() {
          for (const sub of mine) {
            if (subscriptions.delete(sub)) await sub.unsubscribe();
          }
        },
        async [Symbol.asyncDispose]() {
          await this.close();
        },
      };
      return subscription;
    },
    replay() {
      throw unimplemented('replay');
    },
    deadLetters() {
      throw unimplemented('deadLetters');
    },
    async close() {
      for (const sub of [...subscriptions]) await sub.unsubscribe();
      subscriptions.clear();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
