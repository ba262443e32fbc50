import { invalidArgument, toMicroError } from '@micro-os/core';
import { type DestinationStream, destination } from 'pino';
import type { Level, Output } from './output.js';

/** A SonicBoom destination as pino builds it. */
type Boom = ReturnType<typeof destination>;

const flushBoom = (boom: Boom): Promise<void> =>
  new Promise((resolve, reject) => {
    boom.flush((err) => (err ? reject(toMicroError(err, 'unavailable')) : resolve()));
  });

/** Writes JSON lines to standard output (the default). `sync: false` buffers writes for speed. */
export function stdoutOutput(options: { level?: Level; sync?: boolean } = {}): Output {
  const boom = destination({ dest: 1, sync: options.sync ?? true });
  return {
    name: 'stdout',
    stream: boom,
    level: options.level,
    flush: () => (options.sync === false ? flushBoom(boom) : Promise.resolve()),
    async close() {
      if (options.sync === false) await flushBoom(boom);
    },
  };
}

export interface FileOutputOptions {
  /** File appended to. */
  path: string;
  level?: Level | undefined;
  /** Create missing directories. @default true */
  mkdir?: boolean | undefined;
  /** Write each line before returning (slower, nothing lost on a crash). @default false */
  sync?: boolean | undefined;
}

/** Appends JSON lines to a file; `close()` flushes and closes it. */
export function fileOutput(options: FileOutputOptions): Output {
  if (typeof options.path !== 'string' || options.path === '')
    throw invalidArgument(`path must be a non-empty string, got ${JSON.stringify(options.path)}`);
  const boom = destination({ dest: options.path, mkdir: options.mkdir ?? true, sync: options.sync ?? false });
  boom.on('error', () => undefined);
  let closed: Promise<void> | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    if ((boom as Boom & { fd: number }).fd >= 0) resolve();
    boom.once('ready', () => resolve());
    boom.once('error', (err: Error) => reject(toMicroError(err, 'unavailable')));
  });
  ready.catch(() => undefined);
  return {
    name: 'file',
    stream: boom,
    level: options.level,
    async flush() {
      await ready;
      await flushBoom(boom);
    },
    close() {
      closed ??= (async () => {
        await ready;
        await flushBoom(boom);
        await new Promise<void>((resolve) => {
          boom.once('close', () => resolve());
          boom.end();
        });
      })();
      return closed;
    },
  };
}

/** Writes JSON lines to any stream (a socket, a PassThrough in tests); never closes it. */
export function streamOutput(stream: DestinationStream, options: { level?: Level } = {}): Output {
  return {
    name: 'stream',
    stream,
    level: options.level,
    flush: async () => undefined,
    close: async () => undefined,
  };
}
