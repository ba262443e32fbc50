import { MicroError } from './errors.js';

/** Fails with `resource_exhausted` when a message body is over the limit. */
export function checkSize(body: Uint8Array, max: number, what: string): void {
  if (body.byteLength > max) {
    throw new MicroError(
      'resource_exhausted',
      `${what} of ${body.byteLength} bytes exceeds the maximum of ${max}`,
      {
        details: { size: body.byteLength, max },
      },
    );
  }
}
