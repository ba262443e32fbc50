import { Channel, MicroError } from '@micro-os/core';
import { endedChannel, type Source } from './source.js';
import { type ConfigObject, isPlainObject, setAt, splitPath } from './tree.js';

/** A source held in memory; `set` changes it at runtime and wakes the config's watch. */
export interface MemorySource extends Source {
  /** Places `value` at a dotted path ('' replaces the whole document, which must then be an object). */
  set(path: string, value: unknown): void;
}

/** A config source in memory, starting from `initial`. Values may be wrapped in `secret()`. */
export function memorySource(initial: ConfigObject = {}, options: { name?: string } = {}): MemorySource {
  if (!isPlainObject(initial)) throw new MicroError('invalid_argument', 'memorySource needs an object');
  let doc = initial;
  let closed = false;
  const watchers = new Set<Channel<ConfigObject | undefined>>();
  return {
    name: options.name ?? 'memory',
    async read() {
      return doc;
    },
    set(path, value) {
      doc = setAt(doc, splitPath(path), value);
      for (const watcher of watchers) watcher.push(doc);
    },
    watch(signal) {
      if (signal.aborted || closed) return endedChannel();
      const channel: Channel<ConfigObject | undefined> = new Channel(signal, () => watchers.delete(channel));
      watchers.add(channel);
      return channel;
    },
    async close() {
      closed = true;
      for (const watcher of watchers) watcher.end();
    },
  };
}
