import { MicroError } from './errors.js';
import { asBuffer } from './size.js';

/**
 * The binary frame every wire transport and broker uses: a 4-byte big-endian header length, the header as
 * UTF-8 JSON, then the body bytes untouched.
 */
export function encodeFrame(header: unknown, body: Uint8Array): Uint8Array {
  const head = JSON.stringify(header);
  const length = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(4 + length + body.byteLength);
  out.writeUInt32BE(length, 0);
  out.write(head, 4, length, 'utf8');
  out.set(body, 4 + length);
  return out;
}

export function decodeFrame(frame: Uint8Array): { header: unknown; body: Uint8Array } {
  if (frame.byteLength < 4) throw malformed('frame shorter than its length prefix');
  const bytes = asBuffer(frame);
  const length = bytes.readUInt32BE(0);
  if (4 + length > frame.byteLength) throw malformed(`header length ${length} exceeds frame size`);
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8', 4, 4 + length));
  } catch (cause) {
    throw malformed('header is not valid JSON', cause);
  }
  return { header, body: frame.subarray(4 + length) };
}

function malformed(reason: string, cause?: unknown): MicroError {
  return new MicroError('invalid_argument', `malformed message frame: ${reason}`, { cause });
}
