import { type Channel, MicroError } from '@micro-os/core';
import { Redis } from 'ioredis';
import { type Source, storeWatch } from './source.js';
import { type ConfigObject, parseDocument } from './tree.js';

/** How a Redis source notices changes. */
export type RedisWatchMode = 'auto' | 'keyspace' | 'pubsub' | 'poll';

export interface RedisSourceOptions {
  /** A ready ioredis client; the source uses it and leaves it open. One of `client` or `url`. */
  client?: Redis;
  /** A Redis URL; the source connects on first use and owns the connection. */
  url?: string;
  /** The key whose value is the JSON document. */
  key: string;
  /**
   * 'keyspace': keyspace notifications (the source turns on the K, $ and g flags with CONFIG SET, keeping
   * flags already set). 'pubsub': the channel named like the key, which `write()` publishes to, plus polling.
   * 'poll': GET every `pollInterval`. 'auto': keyspace when CONFIG is allowed, else pubsub.
   * @default 'auto'
   */
  watch?: RedisWatchMode;
  /** Polling period in ms for 'pubsub' (as a safety net) and 'poll'. @default 500 */
  pollInterval?: number;
}

/** A config source reading one Redis key. */
export interface RedisSource extends Source {
  readonly key: string;
  /** Stores `doc` at the key and publishes on the key's channel (so pub/sub watchers see it). */
  write(doc: ConfigObject): Promise<void>;
  /** The mode the watch settled on, once a watch has started. */
  readonly watchMode: Exclude<RedisWatchMode, 'auto'> | undefined;
}

const modes: ReadonlySet<string> = new Set(['auto', 'keyspace', 'pubsub', 'poll']);

/** Config from a JSON string at a Redis key, watched through keyspace notifications or pub/sub. */
export function redisSource(options: RedisSourceOptions): RedisSource {
  const { key } = options;
  if (typeof key !== 'string' || key === '') {
    throw new MicroError(
      'invalid_argument',
      `redisSource key must be a non-empty string, got ${JSON.stringify(key)}`,
    );
  }
  if ((options.client === undefined) === (options.url === undefined)) {
    throw new MicroError('invalid_argument', 'redisSource needs exactly one of client or url');
  }
  const wanted = options.watch ?? 'auto';
  if (!modes.has(wanted)) {
    throw new MicroError(
      'invalid_argument',
      `redisSource watch must be auto, keyspace, pubsub or poll, got "${wanted}"`,
    );
  }
  const pollInterval = options.pollInterval ?? 500;
  if (!Number.isFinite(pollInterval) || pollInterval < 10) {
    throw new MicroError(
      'invalid_argument',
      `redisSource pollInterval must be >= 10 ms, got ${pollInterval}`,
    );
  }
  return new RedisConfigSource(key, options, wanted, pollInterval);
}

class RedisConfigSource implements RedisSource {
  readonly name: string;
  readonly key: string;
  watchMode: Exclude<RedisWatchMode, 'auto'> | undefined;
  readonly #options: RedisSourceOptions;
  readonly #wanted: RedisWatchMode;
  readonly #pollInterval: number;
  readonly #watchers = new Set<Channel<ConfigObject | undefined>>();
  #client: Redis | undefined;
  #subscriber: Redis | undefined;
  #started: Promise<void> | undefined;
  #poll: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(key: string, options: RedisSourceOptions, wanted: RedisWatchMode, pollInterval: number) {
    this.name = `redis:${key}`;
    this.key = key;
    this.#options = options;
    this.#wanted = wanted;
    this.#pollInterval = pollInterval;
  }

  async read(): Promise<ConfigObject> {
    const text = await this.#get();
    return text === null ? {} : parseDocument(text, `redis key "${this.key}"`);
  }

  async write(doc: ConfigObject): Promise<void> {
    const text = JSON.stringify(doc);
    try {
      await this.#redis().multi().set(this.key, text).publish(this.key, 'set').exec();
    } catch (cause) {
      throw unavailable(`writing redis config key "${this.key}" failed`, cause);
    }
  }

  watch(signal: AbortSignal): AsyncIterable<ConfigObject | undefined> {
    return storeWatch(signal, this.#closed, this.#watchers, () => {
      this.#started ??= this.#start().catch((err: unknown) => {
        this.#started = undefined;
        throw err;
      });
      return this.#started;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    for (const watcher of [...this.#watchers]) watcher.end();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    subscriber?.disconnect();
    if (this.#options.client === undefined) this.#client?.disconnect();
  }

  #redis(): Redis {
    if (this.#closed)
      throw new MicroError('failed_precondition', `redis config source "${this.key}" is closed`);
    if (this.#client === undefined) {
      if (this.#options.client !== undefined) this.#client = this.#options.client;
      else {
        const client = new Redis(this.#options.url as string, { lazyConnect: true, maxRetriesPerRequest: 1 });
        client.on('error', () => {});
        this.#client = client;
      }
    }
    return this.#client;
  }

  async #get(): Promise<string | null> {
    try {
      return await this.#redis().get(this.key);
    } catch (cause) {
      if (cause instanceof MicroError) throw cause;
      throw unavailable(`reading redis config key "${this.key}" failed`, cause);
    }
  }

  #notify(): void {
    for (const watcher of this.#watchers) watcher.push(undefined);
  }

  async #start(): Promise<void> {
    const client = this.#redis();
    let mode: Exclude<RedisWatchMode, 'auto'> = this.#wanted === 'auto' ? 'keyspace' : this.#wanted;
    if (mode === 'keyspace') {
      const enabled = await enableKeyspaceEvents(client);
      if (!enabled) {
        if (this.#wanted === 'keyspace') {
          throw new MicroError('permission_denied', 'redis refused CONFIG SET notify-keyspace-events', {
            details: { key: this.key },
          });
        }
        mode = 'pubsub';
      }
    }
    this.watchMode = mode;
    if (mode === 'keyspace' || mode === 'pubsub') {
      // No ready check: its INFO fails on a connection that has a SUBSCRIBE out (as discovery's watch found).
      const subscriber = client.duplicate({ lazyConnect: true, enableReadyCheck: false });
      subscriber.on('error', () => {});
      this.#subscriber = subscriber;
      const channel = mode === 'keyspace' ? `__keyspace@${client.options.db ?? 0}__:${this.key}` : this.key;
      subscriber.on('message', (from: string) => {
        if (from === channel) this.#notify();
      });
      let connected = false;
      subscriber.on('ready', () => {
        if (!connected) {
          connected = true;
          return;
        }
        // back after an outage: a restarted server has lost the keyspace flags, and changes may have been missed
        const restore = mode === 'keyspace' ? enableKeyspaceEvents(client) : Promise.resolve(true);
        void restore.catch(() => false).finally(() => this.#notify());
      });
      try {
        await subscriber.subscribe(channel);
      } catch (cause) {
        throw unavailable(`subscribing to redis channel "${channel}" failed`, cause);
      }
      if (this.#closed) subscriber.disconnect();
    }
    if (mode === 'pubsub' || mode === 'poll') await this.#startPolling();
  }

  async #startPolling(): Promise<void> {
    let last = await this.#get();
    let busy = false;
    let failing = false;
    this.#poll = setInterval(() => {
      if (busy) return;
      busy = true;
      this.#get()
        .then((text) => {
          failing = false;
          if (text !== last) {
            last = text;
            this.#notify();
          }
        })
        .catch(() => {
          // the config's re-read reports the failure, once per outage
          if (!failing) this.#notify();
          failing = true;
        })
        .finally(() => {
          busy = false;
        });
    }, this.#pollInterval);
    this.#poll.unref();
    if (this.#closed) clearInterval(this.#poll);
  }
}

/** Turns on keyspace events for string commands and generic ones (DEL, EXPIRE), keeping flags already set. */
async function enableKeyspaceEvents(client: Redis): Promise<boolean> {
  try {
    const reply = (await client.config('GET', 'notify-keyspace-events')) as string[];
    const flags = reply[1] ?? '';
    const all = flags.includes('A');
    const missing = ['K', '$', 'g'].filter((f) => !flags.includes(f) && (f === 'K' || !all));
    if (missing.length > 0) await client.config('SET', 'notify-keyspace-events', flags + missing.join(''));
    return true;
  } catch (cause) {
    if (cause instanceof Error && cause.name === 'ReplyError') return false;
    throw unavailable('reading redis notify-keyspace-events failed', cause);
  }
}

function unavailable(message: string, cause: unknown): MicroError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new MicroError('unavailable', `${message}: ${reason}`, { cause });
}
