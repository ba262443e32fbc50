import { abortError } from './abort.js';
import type { MicroError, WireError } from './errors.js';
import type { Metadata } from './metadata.js';
import { batchHeaderSize, batchMemberOverhead } from './wire.js';

/** The default largest message a transport or broker accepts: 4 MiB. */
export const defaultMaxMessageSize = 4 * 1024 * 1024;

/** A request as it crosses a transport. */
export interface TransportRequest {
  service: string;
  endpoint: string;
  contentType: string;
  metadata: Metadata;
  /** Milliseconds the caller still waits; the server turns it into the handler's deadline. */
  timeout?: number | undefined;
  body: Uint8Array;
  /**
   * The request value itself, set instead of an encoded body when the transport is `byReference` (in-process):
   * the server then skips decoding, like a local function call.
   */
  value?: unknown;
}

/** A response as it crosses a transport; `error` set means the handler failed. */
export interface TransportResponse {
  contentType: string;
  metadata: Metadata;
  body: Uint8Array;
  error?: WireError | undefined;
  /** The response value itself, for a request that was sent by reference. */
  value?: unknown;
}

/**
 * One served request's cancellation: `signal` aborts when the caller cancels or goes away, or the listener
 * closes. An `AbortController` is one; making its signal costs more than the rest of a small request, so a
 * transport hands each request a controller of its own and the signal is made only if something asks for it.
 */
export interface CallSignal {
  readonly signal: AbortSignal;
}

/**
 * Serves one request; `call.signal` aborts when the caller cancels or goes away, or the listener closes. A
 * handler that has its answer at once may return it directly instead of a promise.
 */
export type TransportHandler = (
  request: TransportRequest,
  call: CallSignal,
) => TransportResponse | Promise<TransportResponse>;

export interface RequestOptions {
  signal?: AbortSignal | undefined;
  /** Milliseconds before the request fails with `deadline_exceeded`. */
  timeout?: number | undefined;
}

/** Where a transport reports the outcome of one request made with `requestTo`: exactly one method, once. */
export interface ResponseReceiver {
  onResponse(response: TransportResponse): void;
  onError(error: MicroError): void;
}

/** A bound listener; its address is what the registry advertises for the node. */
export interface Listener {
  readonly address: string;
  close(): Promise<void>;
}

export interface ListenOptions {
  /** A transport-specific address to bind; by default the transport picks one. */
  address?: string;
}

/**
 * Request/response between nodes. Failures to reach a node are `unavailable`, a request that outlives its
 * timeout is `deadline_exceeded`, a cancelled one `aborted`, an oversized one `resource_exhausted`.
 */
export interface Transport {
  readonly name: string;
  /** True for in-process transports that pass values by reference instead of encoded bodies. */
  readonly byReference?: boolean;
  listen(handler: TransportHandler, options?: ListenOptions): Promise<Listener>;
  request(address: string, request: TransportRequest, options?: RequestOptions): Promise<TransportResponse>;
  /**
   * In-process transports only: returns the response itself when the handler answered synchronously; else
   * returns undefined and reports the answer to `receiver` later (never before it returns). Throws instead of
   * rejecting when the request cannot be made. The client uses it when present, so that a call to a local
   * handler costs what a function call does.
   */
  requestInline?(
    address: string,
    request: TransportRequest,
    options: RequestOptions,
    receiver: ResponseReceiver,
  ): TransportResponse | undefined;
  /**
   * Optional: like `request`, but reports to `receiver` instead of settling a promise, so that a client can
   * settle its caller's promise straight from the socket event. Never throws: every failure goes to `onError`.
   */
  requestTo?(
    address: string,
    request: TransportRequest,
    options: RequestOptions,
    receiver: ResponseReceiver,
  ): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A transport's `request` made from its `requestTo`: the promise settles with what the receiver hears. */
export function requestWithPromise(
  requestTo: NonNullable<Transport['requestTo']>,
  address: string,
  request: TransportRequest,
  options: RequestOptions,
): Promise<TransportResponse> {
  return new Promise((resolve, reject) => {
    requestTo(address, request, options, { onResponse: resolve, onError: reject });
  });
}

/** `request to <service>.<endpoint>`, for error messages. */
export function describeRequest(request: TransportRequest): string {
  return `request to ${request.service}.${request.endpoint}`;
}

/**
 * A request in flight on a transport: it settles once, by its answer, a failure, the caller's abort or its
 * deadline. Each transport's pending request extends it; `finish()` is the one gate they all settle through.
 */
export abstract class PendingRequest {
  /** Cancels the deadline, when the request has one. */
  cancelTimer: (() => void) | undefined = undefined;
  #settled = false;

  constructor(
    readonly request: TransportRequest,
    readonly signal: AbortSignal | undefined,
    readonly receiver: ResponseReceiver,
  ) {}

  get settled(): boolean {
    return this.#settled;
  }

  /** What the request is, for error messages. */
  get what(): string {
    return describeRequest(this.request);
  }

  /** The caller's signal aborted (the request is its EventTarget listener object). */
  handleEvent(): void {
    this.fail(abortError(this.signal as AbortSignal, this.what));
  }

  /** Marks the request settled and drops its deadline and abort listener; false when it already was. */
  finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.cancelTimer?.();
    this.signal?.removeEventListener('abort', this);
    return true;
  }

  abstract fail(error: MicroError): void;
}

/**
 * The calls made to each destination in one tick, sent together at its end: the wire transports' batching. A
 * batch that would grow past its byte limit goes at once and a new one starts.
 */
export class TickBatcher<C extends PendingRequest> {
  readonly #queues = new Map<string, { calls: C[]; frames: Uint8Array[]; bytes: number }>();
  #scheduled = false;

  /**
   * `send` gets what was queued for one destination, in order: the calls still waiting (not aborted or timed out
   * meanwhile; never none) and their frames.
   */
  constructor(readonly send: (destination: string, calls: C[], frames: Uint8Array[]) => void) {}

  /** True while calls wait for the end of this tick. */
  get waiting(): boolean {
    return this.#scheduled;
  }

  add(destination: string, call: C, frame: Uint8Array, limit: number): void {
    const size = frame.byteLength + batchMemberOverhead;
    let queued = this.#queues.get(destination);
    if (queued !== undefined && queued.bytes + size > limit) {
      this.#queues.delete(destination);
      this.#send(destination, queued.calls, queued.frames);
      queued = undefined;
    }
    if (queued === undefined) {
      queued = { calls: [], frames: [], bytes: batchHeaderSize };
      this.#queues.set(destination, queued);
    }
    queued.calls.push(call);
    queued.frames.push(frame);
    queued.bytes += size;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.#flush);
    }
  }

  /** Takes out every call still queued (the transport is closing). */
  drain(): C[] {
    const calls = [...this.#queues.values()].flatMap((queued) => queued.calls);
    this.#queues.clear();
    return calls;
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const queues = [...this.#queues];
    this.#queues.clear();
    for (const [destination, queued] of queues) this.#send(destination, queued.calls, queued.frames);
  };

  #send(destination: string, calls: C[], frames: Uint8Array[]): void {
    const live: C[] = [];
    const liveFrames: Uint8Array[] = [];
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i] as C;
      if (call.settled) continue;
      live.push(call);
      liveFrames.push(frames[i] as Uint8Array);
    }
    if (live.length > 0) this.send(destination, live, liveFrames);
  }
}
