/** The stable error codes of micro-os. They cross the wire unchanged. */
export const errorCodes = [
  'not_found',
  'invalid_argument',
  'already_exists',
  'failed_precondition',
  'aborted',
  'unavailable',
  'deadline_exceeded',
  'unauthenticated',
  'permission_denied',
  'resource_exhausted',
  'unimplemented',
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

const codeSet: ReadonlySet<string> = new Set(errorCodes);
const retryableCodes: ReadonlySet<ErrorCode> = new Set(['unavailable', 'resource_exhausted']);

/** A JSON-safe value for error details. */
export type ErrorDetails = Record<string, unknown>;

export interface MicroErrorOptions {
  /** Structured facts about the failure; must be JSON-serialisable to cross the wire. */
  details?: ErrorDetails;
  /** The underlying error, usually the driver's. */
  cause?: unknown;
}

const brand = Symbol.for('micro-os.MicroError');

/** The one error type of micro-os: a stable `code`, a message naming what was wrong, details and cause. */
export class MicroError extends Error {
  override readonly name = 'MicroError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  readonly [brand] = true;

  constructor(code: ErrorCode, message: string, options: MicroErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  /** The wire form: what crosses every transport and broker. */
  toJSON(): WireError {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** The serialised form of a MicroError. */
export interface WireError {
  code: ErrorCode;
  message: string;
  details: ErrorDetails;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && codeSet.has(value);
}

/** True when `err` is a MicroError (from any copy of this package), optionally with the given code. */
export function isMicroError(err: unknown, code?: ErrorCode): err is MicroError {
  if (typeof err !== 'object' || err === null) return false;
  const marked = (err as { [brand]?: unknown })[brand] === true;
  if (!marked) return false;
  return code === undefined || (err as MicroError).code === code;
}

/**
 * Whether a call that failed with `err` may be retried: `unavailable` and `resource_exhausted` only, unless the
 * error says otherwise with `details.retryable: false` (an oversized message stays oversized).
 */
export function isRetryable(err: unknown): boolean {
  return isMicroError(err) && retryableCodes.has(err.code) && err.details.retryable !== false;
}

/** Turns anything thrown into a MicroError; non-MicroErrors become `internal` with the original as cause. */
export function toMicroError(err: unknown, fallback: ErrorCode = 'internal'): MicroError {
  if (isMicroError(err)) return err;
  if (err instanceof Error && err.name === 'AbortError') {
    return new MicroError('aborted', `operation aborted: ${err.message}`, { cause: err });
  }
  if (err instanceof Error && err.name === 'TimeoutError') {
    return new MicroError('deadline_exceeded', `operation timed out: ${err.message}`, { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new MicroError(fallback, message, { cause: err });
}

/** Rebuilds a MicroError from its wire form; anything malformed becomes `internal`. */
export function fromWireError(value: unknown): MicroError {
  if (typeof value === 'object' && value !== null) {
    const v = value as Partial<WireError>;
    if (isErrorCode(v.code) && typeof v.message === 'string') {
      const details = typeof v.details === 'object' && v.details !== null ? v.details : {};
      return new MicroError(v.code, v.message, { details });
    }
  }
  return new MicroError('internal', 'malformed error received from peer', { details: { received: value } });
}

/** Shorthand for the most common failure: a bad argument, named. */
export function invalidArgument(message: string, details?: ErrorDetails): MicroError {
  return new MicroError('invalid_argument', message, details === undefined ? {} : { details });
}
