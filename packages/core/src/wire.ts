import { fromWireError, invalidArgument, MicroError } from './errors.js';
import type { Metadata } from './metadata.js';
import { asBuffer } from './size.js';
import type { TransportRequest, TransportResponse } from './transport.js';

/**
 * The binary encoding of requests and responses for the wire transports (HTTP, NATS). Strings are
 * length-prefixed UTF-8; the body follows the header untouched.
 *
 *   request:  0x01 | u32 timeout+1 (0: none) | s16 service | s16 endpoint | s16 content type | metadata | body
 *   response: 0x02 | s16 content type | metadata | u32 error length | error JSON | body
 *   cancel:   0x05 (the transport names the request it cancels)
 *   metadata: u16 count | (s16 key | s32 value) * count
 */
const requestKind = 0x01;
const responseKind = 0x02;
const requestBatchKind = 0x03;
const responseBatchKind = 0x04;
const cancelKind = 0x05;

/**
 * A caller giving up on a request it sent. Over NATS it goes to the listener's subject with the request's reply
 * subject as its own, which names the call: the handler's signal aborts.
 */
export const cancelFrame: Uint8Array = Uint8Array.of(cancelKind);

export function isCancel(frame: Uint8Array): boolean {
  return frame.byteLength === 1 && frame[0] === cancelKind;
}

/**
 * Several request (or response) frames in one message, each tagged with the caller's correlation id:
 *
 *   batch: 0x03 (requests) or 0x04 (responses) | u16 count | (u32 id | u32 length | frame) * count
 *
 * The NATS transport sends the requests made to one listener in the same tick as one batch, and the listener
 * answers the batch's members in batches of its own.
 */
export interface BatchMember {
  id: number;
  frame: Uint8Array;
}

/** Bytes a member adds to a batch on top of its frame. */
export const batchMemberOverhead = 8;
/** Bytes of a batch's own header. */
export const batchHeaderSize = 3;

export function isRequestBatch(frame: Uint8Array): boolean {
  return frame[0] === requestBatchKind;
}

export function encodeRequestBatch(members: readonly BatchMember[]): Uint8Array {
  return encodeBatch(requestBatchKind, members);
}

export function encodeResponseBatch(members: readonly BatchMember[]): Uint8Array {
  return encodeBatch(responseBatchKind, members);
}

/** The members of a request batch; their frames are views into `frame`. */
export function decodeRequestBatch(frame: Uint8Array): BatchMember[] {
  return decodeBatch(frame, requestBatchKind, 'request');
}

export function decodeResponseBatch(frame: Uint8Array): BatchMember[] {
  return decodeBatch(frame, responseBatchKind, 'response');
}

function encodeBatch(kind: number, members: readonly BatchMember[]): Uint8Array {
  if (members.length > 0xffff) throw invalidArgument(`too many frames in a batch: ${members.length}`);
  const out = Buffer.allocUnsafe(batchHeaderSize + recordsSize(members));
  out[0] = kind;
  out.writeUInt16BE(members.length, 1);
  writeRecords(out, batchHeaderSize, members);
  return out;
}

/**
 * Batch members without the batch header, `(u32 id | u32 length | frame) *`: what the HTTP transport streams back
 * to a batch of requests, each answer as soon as it is ready.
 */
export function encodeBatchRecords(members: readonly BatchMember[]): Buffer {
  const out = Buffer.allocUnsafe(recordsSize(members));
  writeRecords(out, 0, members);
  return out;
}

/**
 * Takes the complete records off the front of `bytes`: the members, and what is left of an incomplete one (to
 * be continued by the next chunk).
 */
export function takeBatchRecords(bytes: Buffer): { members: BatchMember[]; rest: Buffer } {
  const members: BatchMember[] = [];
  let at = 0;
  while (at + batchMemberOverhead <= bytes.byteLength) {
    const length = bytes.readUInt32BE(at + 4);
    if (at + batchMemberOverhead + length > bytes.byteLength) break;
    members.push({
      id: bytes.readUInt32BE(at),
      frame: bytes.subarray(at + batchMemberOverhead, at + batchMemberOverhead + length),
    });
    at += batchMemberOverhead + length;
  }
  return { members, rest: bytes.subarray(at) };
}

function recordsSize(members: readonly BatchMember[]): number {
  let size = 0;
  for (const m of members) size += batchMemberOverhead + m.frame.byteLength;
  return size;
}

function writeRecords(out: Buffer, start: number, members: readonly BatchMember[]): void {
  let at = start;
  for (const m of members) {
    out.writeUInt32BE(m.id, at);
    out.writeUInt32BE(m.frame.byteLength, at + 4);
    out.set(m.frame, at + batchMemberOverhead);
    at += batchMemberOverhead + m.frame.byteLength;
  }
}

function decodeBatch(frame: Uint8Array, kind: number, what: 'request' | 'response'): BatchMember[] {
  const code = what === 'request' ? 'invalid_argument' : 'internal';
  const bytes = asBuffer(frame);
  if (bytes.byteLength < batchHeaderSize || bytes[0] !== kind)
    throw malformed(what, `not a ${what} batch`, code);
  const count = bytes.readUInt16BE(1);
  const members: BatchMember[] = [];
  let at = batchHeaderSize;
  for (let i = 0; i < count; i++) {
    if (at + batchMemberOverhead > bytes.byteLength)
      throw malformed(what, `batch truncated at byte ${at}`, code);
    const id = bytes.readUInt32BE(at);
    const length = bytes.readUInt32BE(at + 4);
    at += batchMemberOverhead;
    if (at + length > bytes.byteLength) throw malformed(what, `batch truncated at byte ${at}`, code);
    members.push({ id, frame: bytes.subarray(at, at + length) });
    at += length;
  }
  if (at !== bytes.byteLength)
    throw malformed(what, `${bytes.byteLength - at} bytes after the last batch member`, code);
  return members;
}

/** The encoded `service | endpoint | content type` of a call target, by service and endpoint. */
interface Target {
  readonly contentType: string;
  readonly bytes: Uint8Array;
}
const targets = new Map<string, Map<string, Target>>();
let targetCount = 0;
/** Past this many call targets (names from user input?), they are encoded per call, not kept. */
const maxTargets = 10_000;

/** `s16 service | s16 endpoint | s16 content type`, made once per call target: calls repeat a few targets. */
function targetBytes(service: string, endpoint: string, contentType: string): Uint8Array {
  let byEndpoint = targets.get(service);
  const cached = byEndpoint?.get(endpoint);
  if (cached !== undefined && cached.contentType === contentType) return cached.bytes;
  const out = Buffer.allocUnsafeSlow(
    6 + Buffer.byteLength(service) + Buffer.byteLength(endpoint) + Buffer.byteLength(contentType),
  );
  writeString16(out, writeString16(out, writeString16(out, 0, service), endpoint), contentType);
  if (cached === undefined && targetCount < maxTargets) {
    if (byEndpoint === undefined) {
      byEndpoint = new Map();
      targets.set(service, byEndpoint);
    }
    byEndpoint.set(endpoint, { contentType, bytes: out });
    targetCount++;
  }
  return out;
}

const contentTypes = new Map<string, Uint8Array>();

/** `s16 content type`, made once per content type (a process uses a handful; past 100 they are not kept). */
function contentTypeBytes(contentType: string): Uint8Array {
  const cached = contentTypes.get(contentType);
  if (cached !== undefined) return cached;
  const out = Buffer.allocUnsafeSlow(2 + Buffer.byteLength(contentType));
  writeString16(out, 0, contentType);
  if (contentTypes.size < 100) contentTypes.set(contentType, out);
  return out;
}

export function encodeRequest(request: TransportRequest): Uint8Array {
  const { metadata, body } = request;
  const keys = Object.keys(metadata);
  const target = targetBytes(request.service, request.endpoint, request.contentType);
  const size = 1 + 4 + target.byteLength + metadataSize(metadata, keys);
  const out = Buffer.allocUnsafe(size + body.byteLength);
  out[0] = requestKind;
  out.writeUInt32BE(
    request.timeout === undefined ? 0 : Math.min(0xfffffffe, Math.ceil(request.timeout)) + 1,
    1,
  );
  out.set(target, 5);
  const at = writeMetadata(out, 5 + target.byteLength, metadata, keys);
  out.set(body, at);
  return out;
}

export function decodeRequest(frame: Uint8Array): TransportRequest {
  const reader = new Reader(frame, 'request');
  if (reader.u8() !== requestKind) throw malformed('request', 'not a request frame');
  const timeout = reader.u32();
  const service = reader.string16();
  const endpoint = reader.string16();
  const contentType = reader.string16();
  const metadata = reader.metadata();
  return {
    service,
    endpoint,
    contentType,
    metadata,
    timeout: timeout === 0 ? undefined : timeout - 1,
    body: reader.rest(),
  };
}

export function encodeResponse(response: TransportResponse): Uint8Array {
  const { contentType, metadata, body } = response;
  const keys = Object.keys(metadata);
  const error = response.error === undefined ? '' : JSON.stringify(response.error);
  const errorLength = error === '' ? 0 : Buffer.byteLength(error);
  const type = contentTypeBytes(contentType);
  const size = 1 + type.byteLength + metadataSize(metadata, keys) + 4 + errorLength;
  const out = Buffer.allocUnsafe(size + body.byteLength);
  out[0] = responseKind;
  out.set(type, 1);
  let at = writeMetadata(out, 1 + type.byteLength, metadata, keys);
  out.writeUInt32BE(errorLength, at);
  at += 4;
  if (errorLength > 0) at += out.write(error, at, 'utf8');
  out.set(body, at);
  return out;
}

export function decodeResponse(frame: Uint8Array): TransportResponse {
  const reader = new Reader(frame, 'response');
  if (reader.u8() !== responseKind) throw malformed('response', 'not a response frame', 'internal');
  const contentType = reader.string16();
  const metadata = reader.metadata();
  const errorText = reader.string(reader.u32());
  let error: TransportResponse['error'];
  if (errorText !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(errorText);
    } catch (cause) {
      throw new MicroError('internal', 'malformed error in response frame from peer', { cause });
    }
    error = fromWireError(parsed).toJSON();
  }
  return { contentType, metadata, body: reader.rest(), error };
}

/** A response that carries only an error. */
export function errorResponse(error: MicroError): TransportResponse {
  return { contentType: '', metadata: {}, body: new Uint8Array(0), error: error.toJSON() };
}

function metadataSize(metadata: Metadata, keys: string[]): number {
  let size = 2;
  for (const key of keys) size += 6 + Buffer.byteLength(key) + Buffer.byteLength(metadata[key] as string);
  return size;
}

function writeString16(out: Buffer, at: number, value: string): number {
  const written = out.write(value, at + 2, 'utf8');
  if (written > 0xffff) throw invalidArgument(`header field of ${written} bytes is too long (max 65535)`);
  out.writeUInt16BE(written, at);
  return at + 2 + written;
}

function writeMetadata(out: Buffer, at: number, metadata: Metadata, keys: string[]): number {
  if (keys.length > 0xffff) throw invalidArgument(`too many metadata entries: ${keys.length} (max 65535)`);
  out.writeUInt16BE(keys.length, at);
  let next = at + 2;
  for (const key of keys) {
    next = writeString16(out, next, key);
    const written = out.write(metadata[key] as string, next + 4, 'utf8');
    out.writeUInt32BE(written, next);
    next += 4 + written;
  }
  return next;
}

/** Reads a frame field by field; anything out of bounds is a malformed frame. */
class Reader {
  readonly #bytes: Buffer;
  readonly #what: 'request' | 'response';
  #at = 0;

  constructor(frame: Uint8Array, what: 'request' | 'response') {
    this.#bytes = asBuffer(frame);
    this.#what = what;
  }

  #need(count: number): number {
    const at = this.#at;
    if (at + count > this.#bytes.byteLength) {
      throw malformed(
        this.#what,
        `truncated at byte ${at}`,
        this.#what === 'request' ? 'invalid_argument' : 'internal',
      );
    }
    this.#at = at + count;
    return at;
  }

  u8(): number {
    return this.#bytes[this.#need(1)] as number;
  }

  u32(): number {
    return this.#bytes.readUInt32BE(this.#need(4));
  }

  string(length: number): string {
    const at = this.#need(length);
    return length === 0 ? '' : this.#bytes.toString('utf8', at, at + length);
  }

  string16(): string {
    return this.string(this.#bytes.readUInt16BE(this.#need(2)));
  }

  metadata(): Metadata {
    const count = this.#bytes.readUInt16BE(this.#need(2));
    const out: Metadata = {};
    for (let i = 0; i < count; i++) {
      const key = this.string16();
      out[key] = this.string(this.u32());
    }
    return out;
  }

  rest(): Uint8Array {
    return this.#bytes.subarray(this.#at);
  }
}

function malformed(
  what: 'request' | 'response',
  reason: string,
  code: 'invalid_argument' | 'internal' = 'invalid_argument',
): MicroError {
  return new MicroError(code, `malformed ${what} frame: ${reason}`);
}
