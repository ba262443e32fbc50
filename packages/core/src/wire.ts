import { fromWireError, invalidArgument, MicroError } from './errors.js';
import { decodeFrame, encodeFrame } from './frame.js';
import type { Metadata } from './metadata.js';
import type { TransportRequest, TransportResponse } from './transport.js';

/** Encoding of requests and responses for the wire transports (HTTP, NATS). */

interface RequestHeader {
  s: string;
  e: string;
  ct: string;
  md: Metadata;
  t?: number | undefined;
}

interface ResponseHeader {
  ct: string;
  md: Metadata;
  err?: unknown;
}

export function encodeRequest(request: TransportRequest, id?: string): Uint8Array {
  const header: RequestHeader & { id?: string } = {
    s: request.service,
    e: request.endpoint,
    ct: request.contentType,
    md: request.metadata,
  };
  if (request.timeout !== undefined) header.t = request.timeout;
  if (id !== undefined) header.id = id;
  return encodeFrame(header, request.body);
}

export function decodeRequest(frame: Uint8Array): TransportRequest & { id?: string } {
  const { header, body } = decodeFrame(frame);
  const h = header as Partial<RequestHeader> & { id?: unknown };
  if (typeof h.s !== 'string' || typeof h.e !== 'string' || typeof h.ct !== 'string') {
    throw invalidArgument('malformed request header: service, endpoint and content type are required');
  }
  const request: TransportRequest & { id?: string } = {
    service: h.s,
    endpoint: h.e,
    contentType: h.ct,
    metadata: toMetadata(h.md),
    timeout: typeof h.t === 'number' && h.t >= 0 ? h.t : undefined,
    body,
  };
  if (typeof h.id === 'string') request.id = h.id;
  return request;
}

export function encodeResponse(response: TransportResponse): Uint8Array {
  const header: ResponseHeader = { ct: response.contentType, md: response.metadata };
  if (response.error !== undefined) header.err = response.error;
  return encodeFrame(header, response.body);
}

export function decodeResponse(frame: Uint8Array): TransportResponse {
  const { header, body } = decodeFrame(frame);
  const h = header as Partial<ResponseHeader>;
  if (typeof h.ct !== 'string') throw new MicroError('internal', 'malformed response header from peer');
  return {
    contentType: h.ct,
    metadata: toMetadata(h.md),
    body,
    error: h.err === undefined ? undefined : fromWireError(h.err).toJSON(),
  };
}

/** A response that carries only an error. */
export function errorResponse(error: MicroError): TransportResponse {
  return { contentType: '', metadata: {}, body: new Uint8Array(0), error: error.toJSON() };
}

function toMetadata(value: unknown): Metadata {
  if (typeof value !== 'object' || value === null) return {};
  const out: Metadata = {};
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v;
  return out;
}
