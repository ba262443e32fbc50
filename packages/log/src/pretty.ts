import type { Writable } from 'node:stream';
import PinoPretty from 'pino-pretty';
import type { Level, Output } from './output.js';

export interface PrettyOutputOptions {
  level?: Level | undefined;
  /** @default true when writing to a terminal */
  colorize?: boolean | undefined;
  /** @default standard output */
  destination?: Writable | undefined;
}

/** Human-readable, coloured lines for development, through pino-pretty (an optional peer dependency). */
export function prettyOutput(options: PrettyOutputOptions = {}): Output {
  const stream = PinoPretty({
    colorize: options.colorize ?? process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    sync: true,
    ...(options.destination === undefined ? {} : { destination: options.destination }),
  });
  return {
    name: 'pretty',
    stream,
    level: options.level,
    flush: async () => undefined,
    close: async () => undefined,
  };
}
