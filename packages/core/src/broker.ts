import type { Metadata } from './metadata.js';

/** A message as it crosses a broker. */
export interface BrokerMessage {
  topic: string;
  contentType: string;
  metadata: Metadata;
  body: Uint8Array;
}

export type BrokerHandler = (message: BrokerMessage) => Promise<void> | void;

export interface SubscribeOptions {
  /** Members of the same queue group share the messages: each goes to one of them. Without it, every subscriber gets every message. */
  queue?: string | undefined;
}

export interface Subscription {
  readonly topic: string;
  readonly queue: string | undefined;
  unsubscribe(): Promise<void>;
}

/**
 * Publish/subscribe, at most once: a subscriber that is not connected when a message is published does not
 * get it (the event package gives durable, at-least-once delivery).
 */
export interface Broker {
  readonly name: string;
  publish(topic: string, message: Omit<BrokerMessage, 'topic'>): Promise<void>;
  subscribe(topic: string, handler: BrokerHandler, options?: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
