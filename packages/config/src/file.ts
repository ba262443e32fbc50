import { type FSWatcher, watch as fsWatch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { Channel, MicroError } from '@micro-os/core';
import { endedChannel, type Source } from './source.js';
import { type ConfigObject, parseDocument } from './tree.js';

export interface FileSourceOptions {
  /** A missing file reads as `{}` instead of failing with `not_found`. @default false */
  optional?: boolean;
  /** Quiet time after the last file event before the config re-reads it, in ms. @default 50 */
  debounce?: number;
}

/**
 * A JSON file as config, watched with fs.watch on its directory (so editors that replace the file by
 * renaming are followed) and debounced.
 */
export function fileSource(path: string, options: FileSourceOptions = {}): Source {
  if (typeof path !== 'string' || path === '') {
    throw new MicroError('invalid_argument', `fileSource needs a file path, got ${JSON.stringify(path)}`);
  }
  const debounce = options.debounce ?? 50;
  if (!Number.isFinite(debounce) || debounce < 0) {
    throw new MicroError('invalid_argument', `fileSource debounce must be a number >= 0, got ${debounce}`);
  }
  const file = resolve(path);
  const name = `file:${file}`;
  const watchers = new Set<() => void>();
  return {
    name,
    async read(): Promise<ConfigObject> {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          if (options.optional === true) return {};
          throw new MicroError('not_found', `config file ${file} does not exist`, {
            cause,
            details: { file },
          });
        }
        throw new MicroError('unavailable', `config file ${file} could not be read: ${code}`, {
          cause,
          details: { file },
        });
      }
      return parseDocument(text, `config file ${file}`);
    },
    watch(signal) {
      if (signal.aborted) return endedChannel();
      let timer: NodeJS.Timeout | undefined;
      let watcher: FSWatcher | undefined;
      const stop = (): void => {
        clearTimeout(timer);
        watcher?.close();
        watchers.delete(stop);
        channel.end();
      };
      const channel = new Channel<ConfigObject | undefined>(signal, stop);
      try {
        watcher = fsWatch(dirname(file), { persistent: false }, (_event, changed) => {
          if (changed !== null && changed.toString() !== basename(file)) return;
          clearTimeout(timer);
          timer = setTimeout(() => channel.push(undefined), debounce);
          timer.unref();
        });
        watcher.on('error', (cause) =>
          channel.fail(new MicroError('unavailable', `watching ${file} failed: ${cause.message}`, { cause })),
        );
      } catch (cause) {
        channel.fail(
          new MicroError('unavailable', `cannot watch ${file}: ${(cause as Error).message}`, { cause }),
        );
        return channel;
      }
      watchers.add(stop);
      // once watching, ask for a re-read: a change between the config's first read and now is not lost
      channel.push(undefined);
      return channel;
    },
    async close() {
      for (const stop of [...watchers]) stop();
    },
  };
}
