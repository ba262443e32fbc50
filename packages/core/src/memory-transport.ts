import { randomUUID } from 'node:crypto';
import { abortError, deadlineSignal, raceSignal } from './abort.js';
import { MicroError, toMicroError } from './errors.js';
import { checkSize } from './size.js';
import {
  defaultMaxMessageSize,
  type Listener,
  type ListenOptions,
  type RequestOptions,
  type Transport,
  type TransportHandler,
  type TransportRequest,
  type TransportResponse,
} from './transport.js';

export interface MemoryTransportOptions {
  /** Largest body accepted, in bytes. @default 4 MiB */
  maxMessageSize?: number;
}

/** Every in-process listener, shared by all memory transports so separate services reach each other. */
const listeners = new Map<string, TransportHandler>();

/** In-process request/response: no sockets, no copies of the body. */
export function memoryTransport(options: MemoryTransportOptions = {}): Transport {
  const maxSize = options.maxMessageSize ?? defaultMaxMessageSize;
  const own = new Set<string>();
  return {
    name: 'memory',
    async listen(handler: TransportHandler, listenOptions: ListenOptions = {}): Promise<Listener> {
      const address = listenOptions.address ?? `memory://${randomUUID()}`;
      if (listeners.has(address)) throw new MicroError('already_exists', `address ${address} is in use`);
      listeners.set(address, handler);
      own.add(address);
      return {
        address,
        async close() {
          listeners.delete(address);
          own.delete(address);
        },
      };
    },
    async request(
      address: string,
      request: TransportRequest,
      opts: RequestOptions = {},
    ): Promise<TransportResponse> {
      const handler = listeners.get(address);
      if (handler === undefined) throw new MicroError('unavailable', `no listener at ${address}`);
      checkSize(request.body, maxSize, 'request');
      const { signal, done } = deadlineSignal(opts.signal, opts.timeout);
      if (signal.aborted) throw abortError(signal, `request to ${request.service}.${request.endpoint}`);
      try {
        const pending = handler(request, signal).catch((err: unknown) => {
          throw toMicroError(err);
        });
        const response = await (opts.signal === undefined && opts.timeout === undefined
          ? pending
          : raceSignal(pending, signal, `request to ${request.service}.${request.endpoint}`));
        checkSize(response.body, maxSize, 'response');
        return response;
      } finally {
        done();
      }
    },
    async close() {
      for (const address of own) listeners.delete(address);
      own.clear();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
