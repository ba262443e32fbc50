import { Channel } from '@micro-os/core';
import type { ConfigObject } from './tree.js';

/** Options for one read of a source. */
export interface ReadOptions {
  signal?: AbortSignal;
}

/**
 * Where configuration comes from. `read` returns the source's whole document; `watch`, when the source
 * can be watched, yields each time the backing store changes: the new document, or nothing to ask the
 * config to read again. A watch that starts listening asynchronously should yield nothing once it listens, so
 * that a change between the first read and the start of the watch is not lost. The watch ends when `signal`
 * aborts or the source closes (and throws when it fails; the config reports that and watches again).
 */
export interface Source {
  /** What the source is, for errors and logs: "memory", "env", "file:/etc/app.json", "redis:app-config". */
  readonly name: string;
  read(options?: ReadOptions): Promise<ConfigObject>;
  watch?(signal: AbortSignal): AsyncIterable<ConfigObject | undefined>;
  /** Releases what the source holds. Idempotent. */
  close(): Promise<void>;
}

/** A watch that is already over (for a signal aborted before the watch began, or a closed source). */
export function endedChannel(): Channel<ConfigObject | undefined> {
  const channel = new Channel<ConfigObject | undefined>();
  channel.end();
  return channel;
}

/**
 * The watch of a store-backed source: a channel kept in `watchers` (the source pushes to them on change),
 * which yields nothing once `listening` resolves, so that a change between the config's first read and the
 * start of the watch is not lost, and fails when listening fails.
 */
export function storeWatch(
  signal: AbortSignal,
  closed: boolean,
  watchers: Set<Channel<ConfigObject | undefined>>,
  listening: () => Promise<void>,
): AsyncIterable<ConfigObject | undefined> {
  if (closed || signal.aborted) return endedChannel();
  const channel: Channel<ConfigObject | undefined> = new Channel(signal, () => watchers.delete(channel));
  watchers.add(channel);
  listening().then(
    () => channel.push(undefined),
    (err: unknown) => channel.fail(err),
  );
  return channel;
}
