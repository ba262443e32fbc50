import { MicroError } from '@micro-os/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { MergedConfig } from './merged-config.js';
import type { Source } from './source.js';
import { type ConfigObject, splitPath } from './tree.js';
import type { Value } from './value.js';

export interface ConfigOptions {
  /** The sources, merged in order: a later source wins; objects merge key by key. */
  sources: readonly Source[];
  /** Paths whose values are secret (everything below them too). `secret()` in a source also marks one. @default [] */
  secrets?: readonly string[];
  /**
   * A Standard Schema for the whole merged tree, checked on load (which then fails) and on every reload (a
   * reload that fails it is reported through `onError` and the last good tree stays). @default none
   */
  schema?: StandardSchemaV1;
  /** Follow the sources' changes after `load()`. @default true */
  watch?: boolean;
  /** Receives failures that have no caller: a source that cannot be re-read, a reload failing the schema, a
   * throwing `onChange` listener. @default process.emitWarning */
  onError?: (error: MicroError) => void;
}

export interface LoadOptions {
  signal?: AbortSignal;
  /** In ms. @default none */
  timeout?: number;
}

export interface WatchOptions {
  /** Ends the watch when aborted. */
  signal?: AbortSignal;
}

/** Merged, typed, watchable configuration. */
export interface Config extends AsyncDisposable {
  /**
   * Reads every source and starts following them. Idempotent; `watch` and `onChange` call it lazily. The signal
   * and timeout bound this caller's wait only (`aborted` / `deadline_exceeded`); the load itself goes on.
   */
  load(options?: LoadOptions): Promise<Config>;
  /** The value at a dotted path ('db.port'; '' is the root). Needs a completed `load()`. */
  get(path: string): Value;
  /** Validates the whole tree with a Standard Schema; `invalid_argument` naming the paths and reasons. */
  scan<S extends StandardSchemaV1>(schema: S): StandardSchemaV1.InferOutput<S>;
  /** Each new value at `path`, yielded only when the merged value there actually changed. */
  watch(path: string, options?: WatchOptions): AsyncIterable<Value>;
  /** Calls `listener` with each new value at `path`; a listener that throws is reported, others go on. */
  onChange(path: string, listener: (value: Value) => unknown, options?: WatchOptions): () => void;
  /** The merged tree with secrets redacted. */
  toJSON(): ConfigObject;
  toString(): string;
  /** Stops following the sources, ends every watch and closes the sources. Idempotent. */
  close(): Promise<void>;
}

/** Creates a config over `sources`; call `await config.load()` before `get`. */
export function createConfig(options: ConfigOptions): Config {
  if (!Array.isArray(options?.sources)) {
    throw new MicroError('invalid_argument', 'createConfig needs a sources array');
  }
  for (const [i, source] of options.sources.entries()) {
    if (typeof source?.read !== 'function' || typeof source.close !== 'function') {
      throw new MicroError('invalid_argument', `source ${i} is not a config source (needs read and close)`);
    }
  }
  for (const path of options.secrets ?? []) splitPath(path);
  return new MergedConfig(options);
}
