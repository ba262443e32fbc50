import { invalidArgument } from '@micro-os/core';
import { type DestinationStream, multistream, type Logger as PinoLogger, pino, stdTimeFunctions } from 'pino';
import { type Level, levels, type Output } from './output.js';
import { stdoutOutput } from './outputs.js';
import { secretRedactor } from './redact.js';
import { traceFields } from './trace-context.js';

/** Structured fields of a line, JSON-serialisable values; an `err` field is serialised as an error. */
export type Fields = Record<string, unknown>;

export interface Logger {
  /** The minimum level written; settable. */
  level: Level;
  trace(message: string, fields?: Fields): void;
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  fatal(message: string, fields?: Fields): void;
  /** A child logger adding these fields to every line (shares the outputs). */
  with(fields: Fields): Logger;
  isLevelEnabled(level: Level): boolean;
  /** The pino logger underneath (escape hatch). */
  readonly pino: PinoLogger;
  /** Waits until every line so far has reached every output. */
  flush(): Promise<void>;
  /** Flushes and closes the outputs (all loggers sharing them). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface LoggerOptions {
  /** `service` field of every line. @default none */
  service?: string | undefined;
  /** @default 'info', or the LOG_LEVEL environment variable */
  level?: Level | undefined;
  /** Fields on every line. @default {} */
  fields?: Fields | undefined;
  /** Paths to redact, in pino's syntax (`user.ssn`, `*.card`, `headers["x-token"]`). @default [] */
  redact?: readonly string[] | undefined;
  /** Also redact fields named like secrets (password, token, secret, authorization, apiKey, cookie...; ignoring case, `-` and `_`) at the top level and two levels down. @default true */
  redactSecrets?: boolean | undefined;
  /** What replaces a redacted value. @default '[REDACTED]' */
  censor?: string | undefined;
  /** `time` as epoch milliseconds (pino's default, the fastest) or an ISO 8601 string (twice the cost of a line). @default 'epoch' */
  time?: 'epoch' | 'iso' | undefined;
  /** Add `trace_id`, `span_id`, `trace_flags` of the active OpenTelemetry span to each line. @default true */
  traceContext?: boolean | undefined;
  /** @default [stdoutOutput()] */
  outputs?: readonly Output[] | undefined;
}

const checkLevel = (level: unknown, what: string): Level => {
  if (!levels.includes(level as Level))
    throw invalidArgument(`${what} must be one of ${levels.join(', ')}, got ${JSON.stringify(level)}`);
  return level as Level;
};

/** A pino logger with trace correlation, secret redaction and the outputs given. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = checkLevel(options.level ?? process.env.LOG_LEVEL ?? 'info', 'level');
  const time = options.time ?? 'epoch';
  if (time !== 'epoch' && time !== 'iso')
    throw invalidArgument(`time must be 'epoch' or 'iso', got ${JSON.stringify(time)}`);
  const outputs = options.outputs ?? [stdoutOutput()];
  if (outputs.length === 0) throw invalidArgument('outputs must not be empty');
  for (const output of outputs)
    if (output.level !== undefined) checkLevel(output.level, `level of ${output.name}`);
  const paths = [...(options.redact ?? [])];
  const censor = options.censor ?? '[REDACTED]';
  const scrub = (options.redactSecrets ?? true) ? secretRedactor(censor) : undefined;
  // One `log` formatter does both jobs: a second pino hook (a mixin) costs more than the work itself.
  const withTrace = options.traceContext ?? true;
  const format = lineFormatter(scrub, withTrace);
  const only = outputs.length === 1 ? outputs[0] : undefined;
  const destination: DestinationStream =
    only !== undefined && only.level === undefined
      ? only.stream
      : multistream(outputs.map((o) => ({ stream: o.stream, level: o.level ?? 'trace' })));
  let root: PinoLogger;
  try {
    root = pino(
      {
        level,
        base: {
          pid: process.pid,
          ...(options.service === undefined ? {} : { service: options.service }),
          ...options.fields,
        },
        timestamp: time === 'iso' ? stdTimeFunctions.isoTime : stdTimeFunctions.epochTime,
        formatters: {
          level: (label) => ({ level: label }),
          ...(format === undefined ? {} : { log: format }),
          ...(scrub === undefined ? {} : { bindings: scrub }),
        },
        ...(paths.length === 0 ? {} : { redact: { paths, censor } }),
      },
      destination,
    );
  } catch (cause) {
    throw invalidArgument(
      `invalid logger options: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        redact: paths,
      },
    );
  }
  let closed: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    await Promise.all(outputs.map((o) => o.flush()));
  };
  const close = (): Promise<void> => {
    closed ??= Promise.all(outputs.map((o) => o.close())).then(() => undefined);
    return closed;
  };
  return wrap(root, flush, close, scrub ?? ((fields) => fields));
}

/** pino's line writer: the fields (undefined for none), the message, the level value. */
type LineWriter = (fields: Fields | undefined, message: string, level: number) => void;
const { writeSym } = pino.symbols;

function wrap(
  logger: PinoLogger,
  flush: () => Promise<void>,
  close: () => Promise<void>,
  scrub: (fields: Fields) => Fields,
): Logger {
  // Our methods take (message, fields) and never format printf-style, so a line goes straight to pino's
  // writer (through pino.symbols, its interface for integrations) and skips the argument parsing of
  // `logger.info(...)`: that saves about what the secret check and the trace ids cost. The level test
  // is the one pino's methods make: a level's value against the logger's (pino's `levelComparison` default).
  const write = Reflect.get(logger, writeSym) as LineWriter;
  const at = (method: Level) => {
    const value = pino.levels.values[method] as number;
    return (message: string, fields?: Fields): void => {
      if (value >= logger.levelVal) write.call(logger, fields, message, value);
    };
  };
  return {
    get level() {
      return logger.level as Level;
    },
    set level(value: Level) {
      logger.level = checkLevel(value, 'level');
    },
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    // pino applies the bindings formatter to the root's base fields only, so child fields are scrubbed here
    with: (fields) => wrap(logger.child(scrub(fields)), flush, close, scrub),
    isLevelEnabled: (level) => logger.isLevelEnabled(level),
    pino: logger,
    flush,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The `log` formatter: the active span's trace fields first, then the line's fields with secrets redacted. */
function lineFormatter(
  scrub: ((fields: Record<string, unknown>) => Record<string, unknown>) | undefined,
  withTrace: boolean,
): ((fields: Record<string, unknown>) => Record<string, unknown>) | undefined {
  if (!withTrace) return scrub;
  return (fields) => {
    const clean = scrub === undefined ? fields : scrub(fields);
    const ids = traceFields();
    return ids === undefined ? clean : Object.assign(ids, clean);
  };
}
