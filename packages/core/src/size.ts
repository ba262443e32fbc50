import { MicroError } from './errors.js';

/** The `resource_exhausted` error for a message over a size limit; retrying will not make it fit. */
export function oversized(what: string, size: number, max: number, limit = 'the maximum'): MicroError {
  return new MicroError('resource_exhausted', `${what} of ${size} bytes exceeds ${limit} of ${max}`, {
    details: { size, max, retryable: false },
  });
}

/** Fails with `resource_exhausted` when a message body is over the limit. */
export function checkSize(body: Uint8Array, max: number, what: string): void {
  if (body.byteLength > max) throw oversized(what, body.byteLength, max);
}

/** The bytes as a Buffer: the same object when it already is one, else a view of the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
