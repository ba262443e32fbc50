import { Packr } from 'msgpackr';
import type { Codec } from './codec.js';
import { MicroError } from './errors.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** A binary codec: MessagePack through msgpackr (an optional peer dependency). */
export const msgpackCodec: Codec = {
  name: 'msgpack',
  contentType: 'application/msgpack',
  encode(value) {
    if (value === undefined) return new Uint8Array(0);
    return packr.pack(value);
  },
  decode(data) {
    if (data.byteLength === 0) return undefined;
    try {
      return packr.unpack(data);
    } catch (cause) {
      throw new MicroError('invalid_argument', `body is not valid MessagePack: ${(cause as Error).message}`, {
        cause,
      });
    }
  },
};
