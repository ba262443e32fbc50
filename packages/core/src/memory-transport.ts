import { randomUUID } from 'node:crypto';
import { abortError } from './abort.js';
import { MicroError, toMicroError } from './errors.js';
import { checkSize, oversized } from './size.js';
import { atDeadline } from './timer-wheel.js';
import {
  type CallSignal,
  defaultMaxMessageSize,
  describeRequest,
  type Listener,
  type ListenOptions,
  PendingRequest,
  type RequestOptions,
  type ResponseReceiver,
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
/** What a handler gets when its caller passed no signal: nothing can cancel the call but its own deadline. */
const neverAborts: CallSignal = { signal: new AbortController().signal };

/** In-process request/response: no sockets; values by reference unless `byReference: false`. */
export function memoryTransport(options: MemoryTransportOptions = {}): Transport {
  const maxSize = options.maxMessageSize ?? defaultMaxMessageSize;
  const own = new Set<string>();

  /**
   * Hands the request to the listener. A handler that answers at once is answered at once (returned); a later
   * answer, a deadline or a cancel goes to `receiver`, and undefined is returned.
   */
  const dispatch = (
    address: string,
    request: TransportRequest,
    opts: RequestOptions,
    receiver: ResponseReceiver,
  ): TransportResponse | undefined => {
    const handler = listeners.get(address);
    if (handler === undefined) throw new MicroError('unavailable', `no listener at ${address}`);
    checkSize(request.body, maxSize, 'request');
    const { signal, timeout } = opts;
    if (signal?.aborted) throw abortError(signal, describeRequest(request));
    // The handler's own deadline comes from request.timeout; a controller is needed only to pass on a cancel.
    const controller = signal === undefined ? undefined : new AbortController();
    let answer: TransportResponse | Promise<TransportResponse>;
    try {
      answer = handler(request, controller ?? neverAborts);
    } catch (error) {
      throw toMicroError(error);
    }
    if (!(answer instanceof Promise)) {
      checkSize(answer.body, maxSize, 'response');
      return answer;
    }
    const call = new PendingCall(request, controller, signal, receiver, maxSize);
    if (timeout !== undefined) {
      call.cancelTimer = atDeadline(Date.now() + timeout, () =>
        call.fail(new MicroError('deadline_exceeded', `${call.what} exceeded its deadline of ${timeout} ms`)),
      );
    }
    signal?.addEventListener('abort', call, { once: true });
    answer.then(
      (response) => call.answer(response),
      (error: unknown) => call.fail(toMicroError(error)),
    );
    return undefined;
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
    request(address, request, opts = {}) {
      return new Promise<TransportResponse>((resolve, reject) => {
        const response = dispatch(address, request, opts, { onResponse: resolve, onError: reject });
        if (response !== undefined) resolve(response);
      });
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

/** A request whose handler answers later: settled once, by the answer, its deadline or the caller's cancel. */
class PendingCall extends PendingRequest {
  constructor(
    request: TransportRequest,
    readonly controller: AbortController | undefined,
    signal: AbortSignal | undefined,
    receiver: ResponseReceiver,
    readonly maxSize: number,
  ) {
    super(request, signal, receiver);
  }

  answer(response: TransportResponse): void {
    if (!this.finish()) return;
    const size = response.body.byteLength;
    if (size > this.maxSize) this.receiver.onError(oversized('response', size, this.maxSize));
    else this.receiver.onResponse(response);
  }

  fail(error: MicroError): void {
    if (!this.finish()) return;
    this.controller?.abort(error);
    this.receiver.onError(error);
  }
}
