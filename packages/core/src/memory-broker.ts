import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscription } from './broker.js';
import { checkQueue, checkTopic } from './names.js';
import { checkSize } from './size.js';
import { defaultMaxMessageSize } from './transport.js';

export interface MemoryBrokerOptions {
  /** Largest body accepted, in bytes. @default 4 MiB */
  maxMessageSize?: number;
  /** Called with errors thrown by handlers (they never reach the publisher). @default console.error */
  onError?: (error: unknown, message: BrokerMessage) => void;
}

interface Entry {
  handler: BrokerHandler;
  queue: string | undefined;
}

/** Topics shared by every memory broker in the process, so separate services reach each other. */
const topics = new Map<string, Set<Entry>>();
const cursors = new Map<string, number>();

/** In-process publish/subscribe with queue groups (round-robin within a group). */
export function memoryBroker(options: MemoryBrokerOptions = {}): Broker {
  const maxSize = options.maxMessageSize ?? defaultMaxMessageSize;
  const onError =
    options.onError ?? ((error: unknown) => console.error('micro-os memory broker handler failed', error));
  const own = new Set<() => void>();

  const deliver = (entry: Entry, message: BrokerMessage): void => {
    queueMicrotask(() => {
      try {
        const result = entry.handler(message);
        if (result !== undefined) result.catch((error: unknown) => onError(error, message));
      } catch (error) {
        onError(error, message);
      }
    });
  };

  return {
    name: 'memory',
    async publish(topic, message) {
      checkTopic(topic);
      checkSize(message.body, maxSize, 'message');
      const entries = topics.get(topic);
      if (entries === undefined) return;
      const full: BrokerMessage = { topic, ...message };
      const groups = new Map<string, Entry[]>();
      for (const entry of entries) {
        if (entry.queue === undefined) deliver(entry, full);
        else {
          const members = groups.get(entry.queue) ?? [];
          members.push(entry);
          groups.set(entry.queue, members);
        }
      }
      for (const [queue, members] of groups) {
        const key = `${topic}\u0000${queue}`;
        const next = cursors.get(key) ?? 0;
        cursors.set(key, next + 1);
        deliver(members[next % members.length] as Entry, full);
      }
    },
    async subscribe(topic, handler, subscribeOptions: SubscribeOptions = {}): Promise<Subscription> {
      checkTopic(topic);
      const queue = subscribeOptions.queue === undefined ? undefined : checkQueue(subscribeOptions.queue);
      const entry: Entry = { handler, queue };
      const entries = topics.get(topic) ?? new Set<Entry>();
      entries.add(entry);
      topics.set(topic, entries);
      const remove = (): void => {
        entries.delete(entry);
        if (entries.size === 0) topics.delete(topic);
        own.delete(remove);
      };
      own.add(remove);
      return {
        topic,
        queue,
        async unsubscribe() {
          remove();
        },
      };
    },
    async close() {
      for (const remove of [...own]) remove();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
