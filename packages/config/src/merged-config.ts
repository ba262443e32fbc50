import { Channel, deadlineSignal, isMicroError, MicroError, raceSignal, sleep } from '@micro-os/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Config, ConfigOptions, LoadOptions, WatchOptions } from './config.js';
import { SecretPaths, unwrapSecrets } from './secret.js';
import type { Source } from './source.js';
import { type ConfigObject, deepMerge, getAt, splitPath, stableJSON } from './tree.js';
import { Value } from './value.js';

interface Snapshot {
  tree: ConfigObject;
  secrets: ReadonlySet<string>;
}

interface Watcher {
  segments: string[];
  path: string;
  last: string | undefined;
  deliver(value: Value): void;
  end(): void;
}

const inspect = Symbol.for('nodejs.util.inspect.custom');

/** The Config over merged sources: snapshots per source, one reload queue, watchers by path. */
export class MergedConfig implements Config {
  readonly #sources: readonly Source[];
  readonly #options: ConfigOptions;
  readonly #onError: (error: MicroError) => void;
  readonly #snapshots: Snapshot[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #stop = new AbortController();
  #tree: ConfigObject | undefined;
  #secrets = new SecretPaths([]);
  #loading: Promise<void> | undefined;
  #queue: Promise<void> = Promise.resolve();
  #closed: Promise<void> | undefined;

  constructor(options: ConfigOptions) {
    this.#options = options;
    this.#sources = [...options.sources];
    this.#onError = options.onError ?? ((error) => process.emitWarning(error.message, 'MicroConfigWarning'));
  }

  async load(options: LoadOptions = {}): Promise<Config> {
    if (this.#closed !== undefined) throw new MicroError('failed_precondition', 'config is closed');
    this.#loading ??= this.#initialLoad().catch((err: unknown) => {
      this.#loading = undefined;
      throw err;
    });
    if (options.signal === undefined && options.timeout === undefined) await this.#loading;
    else {
      const { signal, done } = deadlineSignal(options.signal, options.timeout);
      try {
        await raceSignal(this.#loading, signal, 'config load');
      } finally {
        done();
      }
    }
    return this;
  }

  get(path: string): Value {
    const segments = splitPath(path);
    const tree = this.#tree;
    if (tree === undefined) {
      throw new MicroError(
        'failed_precondition',
        `config read of "${path}" before load: await config.load() first`,
      );
    }
    return new Value(segments.join('.'), getAt(tree, segments), this.#secrets);
  }

  scan<S extends StandardSchemaV1>(schema: S): StandardSchemaV1.InferOutput<S> {
    return this.get('').scan(schema);
  }

  watch(path: string, options: WatchOptions = {}): AsyncIterable<Value> {
    const segments = splitPath(path);
    let watcher: Watcher | undefined;
    const channel = new Channel<Value>(options.signal, () => {
      if (watcher !== undefined) this.#watchers.delete(watcher);
    });
    watcher = this.#register(
      segments,
      (value) => channel.push(value),
      () => channel.end(),
      (err) => channel.fail(err),
    );
    if (channel.ended) this.#watchers.delete(watcher);
    return channel;
  }

  onChange(path: string, listener: (value: Value) => unknown, options: WatchOptions = {}): () => void {
    const segments = splitPath(path);
    const report = (err: unknown): void =>
      this.#report(err, `config listener for "${segments.join('.')}" failed`, 'internal');
    const watcher = this.#register(
      segments,
      (value) => {
        try {
          Promise.resolve(listener(value)).catch(report);
        } catch (err) {
          report(err);
        }
      },
      () => {},
      report,
    );
    const off = (): void => {
      this.#watchers.delete(watcher);
      options.signal?.removeEventListener('abort', off);
    };
    if (options.signal?.aborted) off();
    else options.signal?.addEventListener('abort', off, { once: true });
    return off;
  }

  toJSON(): ConfigObject {
    return this.#secrets.redact(this.#tree ?? {}, '') as ConfigObject;
  }

  toString(): string {
    return JSON.stringify(this.toJSON());
  }

  [inspect](): string {
    return `Config ${this.toString()}`;
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    for (const watcher of this.#watchers) watcher.end();
    this.#watchers.clear();
    await this.#queue;
    const results = await Promise.allSettled(this.#sources.map((s) => s.close()));
    for (const [i, result] of results.entries()) {
      if (result.status === 'rejected') {
        this.#report(result.reason, `closing config source ${this.#sources[i]?.name} failed`, 'internal');
      }
    }
  }

  #register(
    segments: string[],
    deliver: (value: Value) => void,
    end: () => void,
    fail: (err: unknown) => void,
  ): Watcher {
    const watcher: Watcher = { segments, path: segments.join('.'), last: undefined, deliver, end };
    if (this.#closed !== undefined) {
      end();
      return watcher;
    }
    this.#watchers.add(watcher);
    if (this.#tree !== undefined) watcher.last = stableJSON(getAt(this.#tree, segments));
    else this.load().catch(fail);
    return watcher;
  }

  async #initialLoad(): Promise<void> {
    const snapshots = await Promise.all(this.#sources.map((source) => readSource(source)));
    this.#snapshots.splice(0, this.#snapshots.length, ...snapshots);
    const { tree, secrets } = this.#merge();
    if (this.#options.schema !== undefined) new Value('', tree, secrets).scan(this.#options.schema);
    this.#publish(tree, secrets);
    if (this.#options.watch !== false) {
      for (const [i, source] of this.#sources.entries()) {
        if (source.watch !== undefined) void this.#follow(i, source);
      }
    }
  }

  async #follow(index: number, source: Source): Promise<void> {
    const signal = this.#stop.signal;
    const watch = source.watch?.bind(source);
    while (!signal.aborted && watch !== undefined) {
      try {
        for await (const doc of watch(signal)) {
          if (signal.aborted) return;
          this.#enqueue(index, source, doc);
        }
        return;
      } catch (err) {
        if (signal.aborted) return;
        this.#report(err, `watching config source ${source.name} failed; retrying in 1 s`, 'unavailable');
        await sleep(1000, signal).catch(() => {});
        this.#enqueue(index, source, undefined);
      }
    }
  }

  #enqueue(index: number, source: Source, doc: ConfigObject | undefined): void {
    this.#queue = this.#queue
      .then(() => this.#reload(index, source, doc))
      .catch((err: unknown) =>
        this.#report(err, `applying a change of config source ${source.name} failed`, 'internal'),
      );
  }

  async #reload(index: number, source: Source, doc: ConfigObject | undefined): Promise<void> {
    if (this.#stop.signal.aborted) return;
    try {
      this.#snapshots[index] = doc === undefined ? await readSource(source) : snapshot(doc);
    } catch (err) {
      this.#report(
        err,
        `re-reading config source ${source.name} failed; keeping its last value`,
        'unavailable',
      );
      return;
    }
    if (this.#stop.signal.aborted) return;
    const { tree, secrets } = this.#merge();
    if (this.#options.schema !== undefined) {
      try {
        new Value('', tree, secrets).scan(this.#options.schema);
      } catch (err) {
        this.#report(
          err,
          'reloaded config fails its schema; keeping the last good config',
          'invalid_argument',
        );
        return;
      }
    }
    this.#publish(tree, secrets);
  }

  #merge(): { tree: ConfigObject; secrets: SecretPaths } {
    let tree: ConfigObject = {};
    const paths = new Set(this.#options.secrets ?? []);
    for (const snap of this.#snapshots) {
      tree = deepMerge(tree, snap.tree);
      for (const path of snap.secrets) paths.add(path);
    }
    return { tree, secrets: new SecretPaths(paths) };
  }

  #publish(tree: ConfigObject, secrets: SecretPaths): void {
    this.#tree = tree;
    this.#secrets = secrets;
    for (const watcher of [...this.#watchers]) {
      const value = getAt(tree, watcher.segments);
      const sum = stableJSON(value);
      if (watcher.last === undefined) {
        watcher.last = sum;
        continue;
      }
      if (sum === watcher.last) continue;
      watcher.last = sum;
      watcher.deliver(new Value(watcher.path, value, secrets));
    }
  }

  #report(err: unknown, what: string, code: MicroError['code']): void {
    const error = isMicroError(err)
      ? new MicroError(err.code, `${what}: ${err.message}`, { details: err.details, cause: err })
      : new MicroError(code, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    try {
      this.#onError(error);
    } catch {
      // an error reporter that throws has nowhere left to report to
    }
  }
}

async function readSource(source: Source): Promise<Snapshot> {
  let doc: ConfigObject;
  try {
    doc = await source.read();
  } catch (err) {
    if (isMicroError(err)) throw err;
    throw new MicroError('unavailable', `config source ${source.name} could not be read: ${String(err)}`, {
      cause: err,
    });
  }
  return snapshot(doc);
}

function snapshot(doc: ConfigObject): Snapshot {
  const secrets = new Set<string>();
  return { tree: unwrapSecrets(doc, secrets), secrets };
}
