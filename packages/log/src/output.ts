import type { DestinationStream } from 'pino';

/** Levels from the most to the least verbose; `silent` logs nothing. */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const levels: readonly Level[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Where log lines go: a stream of newline-terminated JSON lines, with its own minimum level. */
export interface Output {
  readonly name: string;
  readonly stream: DestinationStream;
  /** Lines below this level are not written to this output. @default every line the logger writes */
  readonly level?: Level | undefined;
  /** Waits until every line written so far has left the process. */
  flush(): Promise<void>;
  /** Flushes and releases the output (closes a file it opened). */
  close(): Promise<void>;
}
