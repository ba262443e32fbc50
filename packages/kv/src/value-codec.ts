import { invalidArgument, jsonCodec } from '@micro-os/core';
import type { Value } from './kv.js';

const bytesTag = 0;
const jsonTag = 1;

/**
 * Encodes a value with a one-byte type tag, so bytes come back as bytes and JSON as JSON. The result is
 * transient (drivers send or copy it), so it comes from Node's buffer pool.
 */
export function encodeValue(value: Value, key: string): Uint8Array {
  if (value instanceof Uint8Array) return tagged(bytesTag, value);
  checkJson(value, key, 'value', new Set());
  return tagged(jsonTag, jsonCodec.encode(value));
}

function tagged(tag: number, body: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(body.byteLength + 1);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

/**
 * Decodes what `encodeValue` produced. Bytes come back as a plain Uint8Array view over the driver's buffer
 * (no copy, as the raw driver would give them); drivers that keep data (memory) hand out copies.
 */
export function decodeValue(data: Uint8Array): Value {
  const body = new Uint8Array(data.buffer, data.byteOffset + 1, data.byteLength - 1);
  if (data[0] === bytesTag) return body;
  return jsonCodec.decode(body) as Value;
}

function checkJson(value: unknown, key: string, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw invalidArgument(`${path} of key "${key}" is ${value}, not JSON`);
      return;
    case 'object': {
      if (value === null) return;
      if (seen.has(value)) throw invalidArgument(`${path} of key "${key}" contains a cycle`);
      seen.add(value);
      if (Array.isArray(value)) {
        value.forEach((item, i) => {
          checkJson(item, key, `${path}[${i}]`, seen);
        });
      } else {
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          const kind = (value as object).constructor?.name ?? 'object';
          throw invalidArgument(
            `${path} of key "${key}" is a ${kind}, which would not come back as one: store a Uint8Array or plain JSON`,
          );
        }
        for (const [name, item] of Object.entries(value)) {
          if (item !== undefined) checkJson(item, key, `${path}.${name}`, seen);
        }
      }
      seen.delete(value);
      return;
    }
    default:
      throw invalidArgument(`${path} of key "${key}" is a ${typeof value}, which cannot be stored as JSON`);
  }
}
