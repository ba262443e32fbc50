import { Channel, MicroError } from '@micro-os/core';
import { Kvm, type KvWatchEntry, KvWatchInclude, type KV as NatsKV } from '@nats-io/kv';
import { connect, type NatsConnection, type QueuedIterator } from '@nats-io/transport-node';
import { endedChannel, type Source } from './source.js';
import { type ConfigObject, parseDocument } from './tree.js';

export interface NatsSourceOptions {
  /** A ready NATS connection; the source uses it and leaves it open. */
  connection?: NatsConnection;
  /** NATS servers to connect to on first use (the source owns that connection). @default 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** The JetStream KV bucket, created with default settings when missing. */
  bucket: string;
  /** The key in the bucket whose value is the JSON document. */
  key: string;
}

/** A config source reading one key of a NATS JetStream KV bucket. */
export interface NatsSource extends Source {
  readonly bucket: string;
  readonly key: string;
  /** Puts `doc` at the key. */
  write(doc: ConfigObject): Promise<void>;
}

/** Config from a NATS KV key (JSON), watched natively with the bucket's watch. */
export function natsSource(options: NatsSourceOptions): NatsSource {
  const { bucket, key } = options;
  if (typeof bucket !== 'string' || !/^[-\w]+$/.test(bucket)) {
    throw new MicroError(
      'invalid_argument',
      `natsSource bucket must match [-A-Za-z0-9_]+, got ${JSON.stringify(bucket)}`,
    );
  }
  if (typeof key !== 'string' || !/^[-/=.\w]+$/.test(key) || key.startsWith('.') || key.endsWith('.')) {
    throw new MicroError(
      'invalid_argument',
      `natsSource key must be made of A-Z a-z 0-9 - _ / = . and not start or end with '.', got ${JSON.stringify(key)}`,
    );
  }
  if (options.connection !== undefined && options.servers !== undefined) {
    throw new MicroError('invalid_argument', 'natsSource takes connection or servers, not both');
  }
  return new NatsConfigSource(options);
}

class NatsConfigSource implements NatsSource {
  readonly name: string;
  readonly bucket: string;
  readonly key: string;
  readonly #options: NatsSourceOptions;
  readonly #watches = new Set<() => void>();
  #kv: Promise<NatsKV> | undefined;
  #owned: Promise<NatsConnection> | undefined;
  #closed = false;

  constructor(options: NatsSourceOptions) {
    this.name = `nats:${options.bucket}/${options.key}`;
    this.bucket = options.bucket;
    this.key = options.key;
    this.#options = options;
  }

  async read(): Promise<ConfigObject> {
    const kv = await this.#open();
    let entry: Awaited<ReturnType<NatsKV['get']>>;
    try {
      entry = await kv.get(this.key);
    } catch (cause) {
      throw unavailable(`reading NATS config key ${this.name}`, cause);
    }
    if (entry === null || entry.operation !== 'PUT') return {};
    return parseDocument(entry.string(), `NATS config key ${this.name}`);
  }

  async write(doc: ConfigObject): Promise<void> {
    const kv = await this.#open();
    try {
      await kv.put(this.key, JSON.stringify(doc));
    } catch (cause) {
      throw unavailable(`writing NATS config key ${this.name}`, cause);
    }
  }

  watch(signal: AbortSignal): AsyncIterable<ConfigObject | undefined> {
    if (this.#closed || signal.aborted) return endedChannel();
    let iterator: QueuedIterator<KvWatchEntry> | undefined;
    const stop = (): void => {
      this.#watches.delete(stop);
      iterator?.stop();
      channel.end();
    };
    const channel = new Channel<ConfigObject | undefined>(signal, stop);
    this.#watches.add(stop);
    const run = async (): Promise<void> => {
      const kv = await this.#open();
      try {
        iterator = await kv.watch({ key: this.key, include: KvWatchInclude.UpdatesOnly });
      } catch (cause) {
        throw unavailable(`watching NATS config key ${this.name}`, cause);
      }
      if (channel.ended) iterator.stop();
      // once watching, ask for a re-read: a change between the config's first read and now is not lost
      else channel.push(undefined);
      for await (const entry of iterator) {
        if (entry.operation !== 'PUT') channel.push({});
        else {
          try {
            channel.push(parseDocument(entry.string(), `NATS config key ${this.name}`));
          } catch {
            // let the config re-read the key, which reports the bad document
            channel.push(undefined);
          }
        }
      }
      channel.end();
    };
    run().catch((err: unknown) => channel.fail(err));
    return channel;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of [...this.#watches]) stop();
    const owned = this.#owned;
    if (owned !== undefined) await owned.then((nc) => nc.close()).catch(() => {});
  }

  #open(): Promise<NatsKV> {
    if (this.#closed) return Promise.reject(new MicroError('failed_precondition', `${this.name} is closed`));
    this.#kv ??= this.#bucket().catch((err: unknown) => {
      this.#kv = undefined;
      throw err;
    });
    return this.#kv;
  }

  async #bucket(): Promise<NatsKV> {
    const nc = await this.#connection();
    const kvm = new Kvm(nc);
    try {
      return await kvm.create(this.bucket);
    } catch (created) {
      try {
        return await kvm.open(this.bucket);
      } catch {
        throw unavailable(`opening NATS KV bucket ${this.bucket}`, created);
      }
    }
  }

  #connection(): Promise<NatsConnection> {
    if (this.#options.connection !== undefined) return Promise.resolve(this.#options.connection);
    this.#owned ??= connect({
      servers: this.#options.servers ?? 'nats://127.0.0.1:4222',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    }).catch((cause: unknown) => {
      this.#owned = undefined;
      throw unavailable('connecting to NATS', cause);
    });
    return this.#owned;
  }
}

function unavailable(what: string, cause: unknown): MicroError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new MicroError('unavailable', `${what} failed: ${reason}`, { cause });
}
