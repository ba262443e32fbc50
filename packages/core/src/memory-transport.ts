import { randomUUID } from 'node:crypto';
import { abortError } from './abort.js';
import { MicroError, toMicroError } from './errors.js';
import { checkSize } from './size.js';
import { atDeadline } from './timer-wheel.js';
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
  /** Largest encoded body accepted, in bytes (values passed by reference are not measured). @default 4 MiB */
  maxMessageSize?: number;
  /**
   * Pass request and response values by reference, skipping the codec, like a local function call. Set false
   * to encode every message as a wire transport would (isolation between caller and handler). @default true
   */
  byReference?: boolean;
}

/** Every in-process listener, shared by all memory transports so separate services reach each other. */
const listeners = new Map<string, TransportHandler>();
const neverAborts = new AbortController().signal;

/** In-process request/response: no sockets; values by reference unless `byReference: false`. */
export function memoryTransport(options: MemoryTransportOptions = {}): Transport {
  const maxSize = options.maxMessageSize ?? defaultMaxMessageSize;
  const own = new Set<string>();

  /** Hands the request to the listener; a handler that answers at once is answered without a promise. */
  const dispatch = (
    address: string,
    request: TransportRequest,
    opts: RequestOptions = {},
  ): TransportResponse | Promise<TransportResponse> => {
    const handler = listeners.get(address);
    if (handler === undefined) throw new MicroError('unavailable', `no listener at ${address}`);
    checkSize(request.body, maxSize, 'request');
    const { signal, timeout } = opts;
    const what = (): string => `request to ${request.service}.${request.endpoint}`;
    if (signal?.aborted) throw abortError(signal, what());
    // The handler's own deadline comes from request.timeout; a controller is needed only to pass on a cancel.
    const controller = signal === undefined ? undefined : new AbortController();
    let answer: TransportResponse | Promise<TransportResponse>;
    try {
      answer = handler(request, controller?.signal ?? neverAborts);
    } catch (error) {
      throw toMicroError(error);
    }
    if (!(answer instanceof Promise)) {
      checkSize(answer.body, maxSize, 'response');
      return answer;
    }
    const pending = answer;
    return new Promise<TransportResponse>((resolve, reject) => {
      let settled = false;
      const cancelTimer =
        timeout === undefined
          ? undefined
          : atDeadline(Date.now() + timeout, () =>
              fail(new MicroError('deadline_exceeded', `${what()} exceeded its deadline of ${timeout} ms`)),
            );
      const onAbort = (): void => fail(abortError(signal as AbortSignal, what()));
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (): boolean => {
        if (settled) return false;
        settled = true;
        cancelTimer?.();
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      function fail(error: MicroError): void {
        if (!finish()) return;
        controller?.abort(error);
        reject(error);
      }
      pending.then(
        (response) => {
          if (!finish()) return;
          try {
            checkSize(response.body, maxSize, 'response');
            resolve(response);
          } catch (error) {
            reject(error);
          }
        },
        (error: unknown) => {
          if (finish()) reject(toMicroError(error));
        },
      );
    });
  };

  return {
    name: 'memory',
    byReference: options.byReference ?? true,
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
    requestInline: dispatch,
    request(
      address: string,
      request: TransportRequest,
      opts: RequestOptions = {},
    ): Promise<TransportResponse> {
      try {
        const response = dispatch(address, request, opts);
        return response instanceof Promise ? response : Promise.resolve(response);
      } catch (error) {
        return Promise.reject(error);
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
