import { abortError, sleep } from './abort.js';
import { type Backoff, exponentialBackoff } from './backoff.js';
import type { Broker } from './broker.js';
import { type Codec, Codecs } from './codec.js';
import { currentContext, remaining } from './context.js';
import { fromWireError, invalidArgument, isRetryable, MicroError, toMicroError } from './errors.js';
import { type Metadata, mergeMetadata } from './metadata.js';
import { checkEndpointName, checkServiceName, checkTopic } from './names.js';
import type { Node, Registry } from './registry.js';
import {
  cachedSelector,
  type Filter,
  type Next,
  type SelectOptions,
  type Selector,
  type Strategy,
} from './selector.js';
import type {
  RequestOptions,
  ResponseReceiver,
  Transport,
  TransportRequest,
  TransportResponse,
} from './transport.js';

const empty = new Uint8Array(0);
const bodyOf = <T>(response: CallResponse<T>): T => response.body;
const noCallOptions: CallOptions = {};
const noSelectOptions: SelectOptions = {};
const noop = (): void => {};

/** One call as wrappers see it. */
export interface CallRequest {
  service: string;
  endpoint: string;
  body: unknown;
  /** Outgoing metadata; wrappers may add to it (trace context, auth token). */
  metadata: Metadata;
}

export interface CallResponse<T = unknown> {
  body: T;
  metadata: Metadata;
}

export interface CallOptions {
  /** Milliseconds for the whole call, retries included; capped by the deadline of the call being served. @default the client's timeout */
  timeout?: number | undefined;
  signal?: AbortSignal | undefined;
  metadata?: Metadata | undefined;
  /** Retries after the first attempt, on retryable codes only. @default the client's retries */
  retries?: number | undefined;
  /** Codec content type for the request. @default the client's codec */
  contentType?: string | undefined;
  /** Calls this address directly, bypassing the selector. */
  address?: string | undefined;
  filters?: readonly Filter[] | undefined;
  strategy?: Strategy | undefined;
}

export type Call = (request: CallRequest, options: CallOptions) => Promise<CallResponse>;
/** Client middleware: trace, metrics, auth and router wrap every call. */
export type ClientWrapper = (next: Call) => Call;

export interface PublishMessage {
  topic: string;
  body: unknown;
  metadata: Metadata;
}
export interface PublishOptions {
  metadata?: Metadata;
  contentType?: string;
}
export type Publish = (message: PublishMessage, options: PublishOptions) => Promise<void>;
export type PublishWrapper = (next: Publish) => Publish;

export interface ClientOptions {
  registry: Registry;
  transport: Transport;
  broker?: Broker | undefined;
  /** @default a cachedSelector over the registry */
  selector?: Selector | undefined;
  /** Codecs understood; the first is the default for requests. @default [jsonCodec] */
  codecs?: readonly Codec[] | undefined;
  /** Applied in order: the first wrapper is the outermost. */
  wrappers?: readonly ClientWrapper[] | undefined;
  publishWrappers?: readonly PublishWrapper[] | undefined;
  /** @default 5000 */
  timeout?: number | undefined;
  /** @default 2 */
  retries?: number | undefined;
  /** @default exponentialBackoff() */
  backoff?: Backoff | undefined;
}

export interface Client {
  call<Res = unknown, Req = unknown>(
    service: string,
    endpoint: string,
    request: Req,
    options?: CallOptions,
  ): Promise<Res>;
  /** Like `call`, with the response metadata. */
  callWithMetadata<Res = unknown, Req = unknown>(
    service: string,
    endpoint: string,
    request: Req,
    options?: CallOptions,
  ): Promise<CallResponse<Res>>;
  publish<T = unknown>(topic: string, message: T, options?: PublishOptions): Promise<void>;
  readonly selector: Selector;
  close(): Promise<void>;
}

/** Builds a client: registry + selector + transport, retries with backoff, deadlines, wrappers. */
export function createClient(options: ClientOptions): Client {
  const codecs = new Codecs(options.codecs);
  const ownSelector = options.selector === undefined;
  const selector = options.selector ?? cachedSelector({ registry: options.registry });
  const defaultTimeout = options.timeout ?? 5000;
  const defaultRetries = options.retries ?? 2;
  const backoff = options.backoff ?? exponentialBackoff();
  const { transport, broker } = options;
  if (!(defaultTimeout > 0)) throw invalidArgument(`timeout must be > 0 ms, got ${defaultTimeout}`);
  if (!Number.isInteger(defaultRetries) || defaultRetries < 0)
    throw invalidArgument(`retries must be an integer >= 0, got ${defaultRetries}`);

  const byReference = transport.byReference === true;
  const checkedServices = new Set<string>();
  const checkedEndpoints = new Set<string>();
  const checkNames = (service: string, endpoint: string): void => {
    if (!checkedServices.has(service)) {
      checkServiceName(service);
      if (checkedServices.size < 10_000) checkedServices.add(service);
    }
    if (!checkedEndpoints.has(endpoint)) {
      checkEndpointName(endpoint);
      if (checkedEndpoints.size < 10_000) checkedEndpoints.add(endpoint);
    }
  };

  /**
   * One call from its first attempt to its last: settings fixed up front, retries on retryable codes. It settles
   * with the body alone (`client.call`) or with `{ body, metadata }` (wrappers, `callWithMetadata`).
   */
  class Attempts implements ResponseReceiver {
    attempt = 0;
    node: Node | undefined;
    /** The caller's promise, while the call goes through a transport that reports to a receiver. */
    settle: (outcome: unknown) => void = noop;
    abandon: (error: unknown) => void = noop;

    constructor(
      readonly request: CallRequest,
      readonly timeout: number,
      readonly deadline: number,
      readonly retries: number,
      readonly signal: AbortSignal | undefined,
      readonly codec: Codec,
      readonly body: Uint8Array,
      readonly next: Next | undefined,
      readonly address: string | undefined,
      readonly bodyOnly: boolean,
    ) {}

    get what(): string {
      return `call to ${this.request.service}.${this.request.endpoint}`;
    }

    /** The outcome, or a promise of it; synchronous when an in-process handler answered at once. */
    start(): unknown {
      if (transport.requestTo === undefined) return this.run();
      return new Promise((resolve, reject) => {
        this.settle = resolve;
        this.abandon = reject;
        this.send();
      });
    }

    /** Picks the node for this attempt; undefined when the deadline has already passed. */
    prepare(): { address: string; request: TransportRequest; options: RequestOptions } | undefined {
      const { request, signal } = this;
      const node = this.next?.();
      this.node = node;
      const left = this.deadline - Date.now();
      if (left <= 0) return undefined;
      const transportRequest: TransportRequest = {
        service: request.service,
        endpoint: request.endpoint,
        contentType: this.codec.contentType,
        metadata: request.metadata,
        timeout: left,
        body: this.body,
      };
      if (byReference) transportRequest.value = request.body;
      return {
        address: node?.address ?? (this.address as string),
        request: transportRequest,
        options: { signal, timeout: left },
      };
    }

    expired(): MicroError {
      return new MicroError('deadline_exceeded', `${this.what} exceeded its deadline of ${this.timeout} ms`);
    }

    /** One attempt through `requestInline` or `request`. */
    run(): unknown {
      const attempt = this.prepare();
      if (attempt === undefined) return this.failed(this.expired());
      let response: TransportResponse | Promise<TransportResponse> | undefined;
      try {
        response =
          transport.requestInline === undefined
            ? transport.request(attempt.address, attempt.request, attempt.options)
            : transport.requestInline(attempt.address, attempt.request, attempt.options, this);
      } catch (err) {
        return this.failed(this.toError(err));
      }
      if (response === undefined) {
        // The in-process handler answers later, to onResponse / onError.
        return new Promise((resolve, reject) => {
          this.settle = resolve;
          this.abandon = reject;
        });
      }
      if (response instanceof Promise) {
        return response.then(
          (answer) => this.settled(answer),
          (err: unknown) => this.failed(this.toError(err)),
        );
      }
      return this.settled(response);
    }

    settled(response: TransportResponse): unknown {
      try {
        return this.answered(response);
      } catch (err) {
        return this.failed(err as MicroError);
      }
    }

    async failed(error: MicroError): Promise<unknown> {
      const pause = this.retryPause(error);
      if (pause === undefined) throw error;
      await sleep(pause, this.signal);
      return this.run();
    }

    /** One attempt while the caller's promise waits: the transport answers in onResponse or onError. */
    send(): void {
      let attempt: ReturnType<Attempts['prepare']>;
      try {
        attempt = this.prepare();
      } catch (err) {
        this.abandon(err);
        return;
      }
      if (attempt === undefined) {
        this.retry(this.expired());
        return;
      }
      if (transport.requestTo !== undefined) {
        transport.requestTo(attempt.address, attempt.request, attempt.options, this);
        return;
      }
      // An in-process transport, retrying after a later answer: a synchronous answer is handled here.
      let response: TransportResponse | undefined;
      try {
        response = transport.requestInline?.(attempt.address, attempt.request, attempt.options, this);
      } catch (err) {
        this.onError(toMicroError(err));
        return;
      }
      if (response !== undefined) this.onResponse(response);
    }

    onResponse(response: TransportResponse): void {
      let outcome: unknown;
      try {
        outcome = this.answered(response);
      } catch (err) {
        this.retry(err as MicroError);
        return;
      }
      this.settle(outcome);
    }

    onError(error: MicroError): void {
      this.retry(this.toError(error));
    }

    retry(error: MicroError): void {
      const pause = this.retryPause(error);
      if (pause === undefined) this.abandon(error);
      else
        sleep(pause, this.signal).then(
          () => this.send(),
          (err: unknown) => this.abandon(err),
        );
    }

    /** The outcome of a response, or the MicroError it carries (thrown). */
    answered(response: TransportResponse): unknown {
      if (response.error !== undefined) throw fromWireError(response.error);
      let value: unknown;
      try {
        value = 'value' in response ? response.value : codecs.get(response.contentType).decode(response.body);
      } catch (err) {
        throw toMicroError(err);
      }
      if (this.node !== undefined) selector.mark(this.request.service, this.node);
      return this.bodyOnly ? value : { body: value, metadata: response.metadata };
    }

    toError(err: unknown): MicroError {
      return this.signal?.aborted ? abortError(this.signal, this.what) : toMicroError(err);
    }

    /** Marks the node; the pause before the next attempt, or undefined when this error ends the call. */
    retryPause(error: MicroError): number | undefined {
      if (this.node !== undefined) selector.mark(this.request.service, this.node, error);
      if (this.attempt >= this.retries || !isRetryable(error)) return undefined;
      this.attempt++;
      const pause = Math.min(backoff(this.attempt), this.deadline - Date.now());
      return pause > 0 ? pause : undefined;
    }
  }

  /**
   * The innermost call: never throws; settles with the body alone when `bodyOnly`, else with the CallResponse;
   * answers synchronously when the transport did.
   */
  const send = (request: CallRequest, callOptions: CallOptions, bodyOnly: boolean): unknown => {
    try {
      checkNames(request.service, request.endpoint);
      const context = currentContext();
      const now = Date.now();
      const inherited = remaining(context?.deadline, now);
      const requested = callOptions.timeout ?? defaultTimeout;
      if (!(requested >= 0)) throw invalidArgument(`timeout must be >= 0 ms, got ${callOptions.timeout}`);
      const timeout = inherited === undefined ? requested : Math.min(requested, inherited);
      const signal =
        callOptions.signal !== undefined && context !== undefined
          ? AbortSignal.any([callOptions.signal, context.signal])
          : (callOptions.signal ?? context?.signal);
      if (signal?.aborted) throw abortError(signal, `call to ${request.service}.${request.endpoint}`);
      const codec = codecs.get(callOptions.contentType);
      const body = byReference ? empty : codec.encode(request.body);
      const deadline = now + timeout;
      const start = (next: Next | undefined): unknown =>
        new Attempts(
          request,
          timeout,
          deadline,
          callOptions.retries ?? defaultRetries,
          signal,
          codec,
          body,
          next,
          callOptions.address,
          bodyOnly,
        ).start();
      if (callOptions.address !== undefined) return start(undefined);
      const selected = selector.select(
        request.service,
        signal === undefined && callOptions.filters === undefined && callOptions.strategy === undefined
          ? noSelectOptions
          : {
              ...(signal === undefined ? {} : { signal }),
              ...(callOptions.filters === undefined ? {} : { filters: callOptions.filters }),
              ...(callOptions.strategy === undefined ? {} : { strategy: callOptions.strategy }),
            },
      );
      return selected instanceof Promise ? selected.then(start) : start(selected);
    } catch (err) {
      return Promise.reject(err);
    }
  };

  const wrappers = options.wrappers ?? [];
  /** The wrapped call, or undefined when there are no wrappers and `send` serves calls directly. */
  const wrapped =
    wrappers.length === 0
      ? undefined
      : wrappers.reduceRight<Call>(
          (next, wrap) => wrap(next),
          (request, callOptions) => Promise.resolve(send(request, callOptions, false) as CallResponse),
        );

  const rawPublish: Publish = async (message, publishOptions) => {
    if (broker === undefined)
      throw new MicroError('failed_precondition', 'this client has no broker to publish with');
    checkTopic(message.topic);
    const codec = codecs.get(publishOptions.contentType);
    await broker.publish(message.topic, {
      contentType: codec.contentType,
      metadata: message.metadata,
      body: codec.encode(message.body),
    });
  };
  const publish = (options.publishWrappers ?? []).reduceRight<Publish>(
    (next, wrap) => wrap(next),
    rawPublish,
  );

  /** Runs a call through the wrappers, or straight to `send`; the body alone when `bodyOnly` and unwrapped. */
  const dispatch = (
    service: string,
    endpoint: string,
    body: unknown,
    callOptions: CallOptions,
    bodyOnly: boolean,
  ): unknown => {
    const request = { service, endpoint, body, metadata: mergeMetadata(callOptions.metadata) };
    if (wrapped === undefined) return send(request, callOptions, bodyOnly);
    const response = wrapped(request, callOptions);
    return bodyOnly ? response.then(bodyOf) : response;
  };

  return {
    selector,
    callWithMetadata<Res, Req>(
      service: string,
      endpoint: string,
      request: Req,
      callOptions: CallOptions = noCallOptions,
    ): Promise<CallResponse<Res>> {
      const response = dispatch(service, endpoint, request, callOptions, false);
      return (response instanceof Promise ? response : Promise.resolve(response)) as Promise<
        CallResponse<Res>
      >;
    },
    call<Res, Req>(
      service: string,
      endpoint: string,
      request: Req,
      callOptions: CallOptions = noCallOptions,
    ): Promise<Res> {
      const response = dispatch(service, endpoint, request, callOptions, true);
      return (response instanceof Promise ? response : Promise.resolve(response)) as Promise<Res>;
    },
    publish(topic, message, publishOptions = {}) {
      return publish(
        { topic, body: message, metadata: mergeMetadata(publishOptions.metadata) },
        publishOptions,
      );
    },
    async close() {
      if (ownSelector) await selector.close();
    },
  };
}
