import { MicroError } from './errors.js';

/**
 * The binary frame every wire transport and broker uses: a 4-byte big-endian header length, the header as
 * UTF-8 JSON, then the body bytes untouched.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeFrame(header: unknown, body: Uint8Array): Uint8Array {
  const head = encoder.encode(JSON.stringify(header));
  const out = new Uint8Array(4 + head.byteLength + body.byteLength);
  new DataView(out.buffer).setUint32(0, head.byteLength);
  out.set(head, 4);
  out.set(body, 4 + head.byteLength);
  return out;
}

export function decodeFrame(frame: Uint8Array): { header: unknown; body: Uint8Array } {
  if (frame.byteLength < 4) throw malformed('frame shorter than its length prefix');
  const length = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  if (4 + length > frame.byteLength) throw malformed(`header length ${length} exceeds frame size`);
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(frame.subarray(4, 4 + length)));
  } catch (cause) {
    throw malformed('header is not valid JSON', cause);
  }
  return { header, body: frame.subarray(4 + length) };
}

function malformed(reason: string, cause?: unknown): MicroError {
  return new MicroError('invalid_argument', `malformed message frame: ${reason}`, { cause });
}
