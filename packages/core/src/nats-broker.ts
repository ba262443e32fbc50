import type { Msg, NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscription } from './broker.js';
import { invalidArgument, MicroError } from './errors.js';
import { decodeFrame, encodeFrame } from './frame.js';
import type { Metadata } from './metadata.js';
import { checkQueue, checkTopic } from './names.js';
import { checkNatsSubject, natsError, natsLink } from './nats-link.js';
import { checkSize } from './size.js';
import { defaultMaxMessageSize } from './transport.js';

export interface NatsBrokerOptions {
  /** A connection to use; the broker leaves it open on close. Exclusive with `servers`. */
  connection?: NatsConnection | undefined;
  /** Servers to connect to, lazily, on first use; the broker owns and closes that connection. @default 'nats://127.0.0.1:4222' */
  servers?: string | string[] | undefined;
  /** Largest message body, in bytes (the server's `max_payload` also applies). @default 4 MiB */
  maxMessageSize?: number | undefined;
  /** Prepended to every topic to make the subject: `<prefix>.<topic>`. @default none, the subject is the topic */
  subjectPrefix?: string | undefined;
  /** Called with errors thrown by handlers and with messages that cannot be decoded. @default console.error */
  onError?: ((error: unknown, message: BrokerMessage | undefined) => void) | undefined;
}

interface Header {
  ct?: unknown;
  md?: unknown;
}

/**
 * Publish/subscribe on core NATS, at most once: plain subscriptions broadcast, a `queue` makes a NATS queue
 * group. After a reconnect nats.js resubscribes every subscription itself, so each message still arrives
 * once. Publishing while the connection is down fails with `unavailable` rather than being buffered.
 */
export function natsBroker(options: NatsBrokerOptions = {}): Broker {
  const maxSize = options.maxMessageSize ?? defaultMaxMessageSize;
  if (!Number.isInteger(maxSize) || maxSize <= 0) {
    throw invalidArgument(`maxMessageSize must be a positive integer, got ${maxSize}`);
  }
  const prefix =
    options.subjectPrefix === undefined ? '' : `${checkNatsSubject(options.subjectPrefix, 'subjectPrefix')}.`;
  const onError =
    options.onError ?? ((error: unknown) => console.error('micro-os nats broker handler failed', error));
  const link = natsLink(options, 'nats broker', () => undefined);
  const subscriptions = new Set<NatsSubscription>();
  let closed = false;

  const deliver = (topic: string, handler: BrokerHandler, msg: Msg): void => {
    let message: BrokerMessage;
    try {
      const { header, body } = decodeFrame(msg.data);
      const h = (typeof header === 'object' && header !== null ? header : {}) as Header;
      if (typeof h.ct !== 'string') throw invalidArgument('message frame has no content type');
      message = { topic, contentType: h.ct, metadata: toMetadata(h.md), body };
    } catch (error) {
      onError(
        new MicroError('invalid_argument', `undecodable message on ${msg.subject}`, { cause: error }),
        undefined,
      );
      return;
    }
    try {
      const result = handler(message);
      if (result !== undefined) result.catch((error: unknown) => onError(error, message));
    } catch (error) {
      onError(error, message);
    }
  };

  return {
    name: 'nats',

    async publish(topic, message) {
      checkTopic(topic);
      checkSize(message.body, maxSize, 'message');
      if (closed) throw new MicroError('unavailable', 'nats broker is closed');
      const nc = link.current ?? (await link.connect());
      if (!link.up)
        throw new MicroError('unavailable', `nats broker is disconnected; ${topic} not published`);
      const frame = encodeFrame({ ct: message.contentType, md: message.metadata }, message.body);
      const max = nc.info?.max_payload;
      if (max !== undefined && frame.byteLength > max) {
        throw new MicroError(
          'resource_exhausted',
          `message of ${frame.byteLength} bytes exceeds the NATS server's max_payload of ${max}`,
          { details: { size: frame.byteLength, max } },
        );
      }
      try {
        nc.publish(prefix + topic, frame);
      } catch (error) {
        throw natsError(error, `publish to ${topic}`);
      }
    },

    async subscribe(topic, handler, subscribeOptions: SubscribeOptions = {}): Promise<Subscription> {
      checkTopic(topic);
      const queue = subscribeOptions.queue === undefined ? undefined : checkQueue(subscribeOptions.queue);
      if (closed) throw new MicroError('unavailable', 'nats broker is closed');
      const nc = await link.connect();
      let subscription: NatsSubscription;
      try {
        subscription = nc.subscribe(prefix + topic, {
          ...(queue === undefined ? {} : { queue }),
          callback: (err, msg) => {
            if (err !== null) onError(err, undefined);
            else deliver(topic, handler, msg);
          },
        });
      } catch (error) {
        throw natsError(error, `subscribe to ${topic}`);
      }
      subscriptions.add(subscription);
      try {
        // The server has the subscription once flush returns, so a publish from elsewhere reaches it.
        await nc.flush();
      } catch (cause) {
        subscriptions.delete(subscription);
        subscription.unsubscribe();
        throw new MicroError('unavailable', `nats broker could not subscribe to ${topic}`, { cause });
      }
      return {
        topic,
        queue,
        async unsubscribe() {
          subscriptions.delete(subscription);
          if (!subscription.isClosed()) subscription.unsubscribe();
        },
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const subscription of subscriptions) if (!subscription.isClosed()) subscription.unsubscribe();
      subscriptions.clear();
      await link.close();
    },

    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

function toMetadata(value: unknown): Metadata {
  if (typeof value !== 'object' || value === null) return {};
  const out: Metadata = {};
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v;
  return out;
}
