import { type Broker, checkTopic } from '@micro-os/core';
import type { Level, Output } from './output.js';

export interface BrokerOutputOptions {
  broker: Broker;
  /** Topic each line is published to, as a JSON message (subscribers get the log object). */
  topic: string;
  level?: Level | undefined;
  /** Called when a publish fails; never logs through the logger (that could loop). @default writes to stderr */
  onError?: ((error: unknown) => void) | undefined;
}

/**
 * Publishes every log line to a broker topic so a collector service can subscribe. Lines go straight to the
 * broker, not through a client's publish wrappers, so logging never creates spans or more log lines.
 */
export function brokerOutput(options: BrokerOutputOptions): Output {
  const topic = checkTopic(options.topic);
  const onError =
    options.onError ??
    ((error: unknown) =>
      process.stderr.write(`micro-os log: publishing to ${topic} failed: ${String(error)}\n`));
  const encoder = new TextEncoder();
  const pending = new Set<Promise<void>>();
  return {
    name: 'broker',
    level: options.level,
    stream: {
      write(line: string) {
        const body = encoder.encode(line.endsWith('\n') ? line.slice(0, -1) : line);
        const sent: Promise<void> = options.broker
          .publish(topic, { contentType: 'application/json', metadata: {}, body })
          .catch(onError)
          .finally(() => pending.delete(sent));
        pending.add(sent);
      },
    },
    async flush() {
      await Promise.all([...pending]);
    },
    async close() {
      await Promise.all([...pending]);
    },
  };
}
