import { isMicroError, MicroError } from '@micro-os/core';
import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  decodeRequestBatch,
  decodeResponse,
  decodeResponseBatch,
  encodeRequest,
  encodeRequestBatch,
  encodeResponse,
  encodeResponseBatch,
  errorResponse,
  isRequestBatch,
} from '../src/wire.js';

describe('wire encoding', () => {
  it('round-trips a request: names, content type, unicode metadata, timeout and body', () => {
    const body = new Uint8Array([0, 1, 2, 255]);
    const request = {
      service: 'greeter',
      endpoint: 'Greeter.Hello',
      contentType: 'application/json',
      metadata: { traceparent: '00-abc-def-01', 'x-user': 'zoë ✓', empty: '' },
      timeout: 1500,
      body,
    };
    const decoded = decodeRequest(encodeRequest(request));
    expect({ ...decoded, body: Array.from(decoded.body) }).toEqual({ ...request, body: [0, 1, 2, 255] });
    expect(decodeRequest(encodeRequest({ ...request, timeout: undefined })).timeout).toBeUndefined();
  });

  it('round-trips a response and its error', () => {
    const ok = decodeResponse(
      encodeResponse({ contentType: 'text/plain', metadata: { a: 'b' }, body: new Uint8Array([7]) }),
    );
    expect(ok.error).toBeUndefined();
    expect(ok.metadata).toEqual({ a: 'b' });
    expect(Array.from(ok.body)).toEqual([7]);
    const failed = decodeResponse(
      encodeResponse(errorResponse(new MicroError('not_found', 'no such user', { details: { id: 7 } }))),
    );
    expect(failed.error).toEqual({ code: 'not_found', message: 'no such user', details: { id: 7 } });
  });

  it('answers every truncation of a request frame with invalid_argument, never a crash', () => {
    const frame = encodeRequest({
      service: 's',
      endpoint: 'E.x',
      contentType: 'application/json',
      metadata: { k: 'v' },
      body: new Uint8Array(0),
    });
    for (let cut = 0; cut < frame.byteLength; cut++) {
      try {
        decodeRequest(frame.subarray(0, cut));
      } catch (err) {
        expect(isMicroError(err, 'invalid_argument')).toBe(true);
      }
    }
    expect(() => decodeRequest(new TextEncoder().encode('{"not":"a frame"}'))).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });

  it('round-trips batches of frames with their correlation ids, and rejects every truncation', () => {
    const frames = [1, 2, 0xffffffff].map((id) => ({
      id,
      frame: encodeRequest({
        service: 's',
        endpoint: `E.n${id}`,
        contentType: '',
        metadata: { id: String(id) },
        body: new Uint8Array([id & 0xff]),
      }),
    }));
    const batch = encodeRequestBatch(frames);
    expect(isRequestBatch(batch)).toBe(true);
    expect(isRequestBatch(frames[0]?.frame ?? new Uint8Array(0))).toBe(false);
    const decoded = decodeRequestBatch(batch);
    expect(decoded.map((m) => [m.id, decodeRequest(m.frame).endpoint])).toEqual([
      [1, 'E.n1'],
      [2, 'E.n2'],
      [0xffffffff, 'E.n4294967295'],
    ]);
    for (let cut = 0; cut < batch.byteLength; cut++)
      expect(() => decodeRequestBatch(batch.subarray(0, cut))).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
    const responses = encodeResponseBatch([
      { id: 7, frame: encodeResponse(errorResponse(new MicroError('not_found', 'x'))) },
    ]);
    const [only] = decodeResponseBatch(responses);
    expect(only?.id).toBe(7);
    expect(decodeResponse(only?.frame ?? new Uint8Array(0)).error).toMatchObject({ code: 'not_found' });
    expect(() => decodeResponseBatch(batch)).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => decodeResponseBatch(Buffer.concat([responses, Buffer.from([0])]))).toThrow(
      expect.objectContaining({ code: 'internal' }),
    );
  });
});
