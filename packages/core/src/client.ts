import { abortError, sleep } from './abort.js';
import { type Backoff, exponentialBackoff } from './backoff.js';
import type { Broker } from './broker.js';
import { type Codec, Codecs } from './codec.js';
import { currentContext, remaining } from './context.js';
import { fromWireError, invalidArgument, isRetryable, MicroError, toMicroError } from './errors.js';
import { type Metadata, mergeMetadata } from './metadata.js';
import { checkEndpointName, checkServiceName, checkTopic } from './names.js';
import type { Registry } from './registry.js';
import { cachedSelector, type Filter, type Next, type Selector, type Strategy } from './selector.js';
import type { Transport, TransportRequest } from './transport.js';

const empty = new Uint8Array(0);
const bodyOf = <T>(response: CallResponse<T>): T => response.body;

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

  const send: Call = async (request, callOptions) => {
    checkNames(request.service, request.endpoint);
    const context = currentContext();
    const inherited = remaining(context?.deadline);
    const requested = callOptions.timeout ?? defaultTimeout;
    if (!(requested >= 0)) throw invalidArgument(`timeout must be >= 0 ms, got ${callOptions.timeout}`);
    const timeout = inherited === undefined ? requested : Math.min(requested, inherited);
    const retries = callOptions.retries ?? defaultRetries;
    const signal =
      callOptions.signal !== undefined && context !== undefined
        ? AbortSignal.any([callOptions.signal, context.signal])
        : (callOptions.signal ?? context?.signal);
    const what = `call to ${request.service}.${request.endpoint}`;
    const deadline = Date.now() + timeout;
    if (signal?.aborted) throw abortError(signal, what);
    const codec = codecs.get(callOptions.contentType);
    const body = byReference ? empty : codec.encode(request.body);
    let next: Next | undefined;
    if (callOptions.address === undefined) {
      const selected = selector.select(request.service, {
        ...(signal === undefined ? {} : { signal }),
        ...(callOptions.filters === undefined ? {} : { filters: callOptions.filters }),
        ...(callOptions.strategy === undefined ? {} : { strategy: callOptions.strategy }),
      });
      next = selected instanceof Promise ? await selected : selected;
    }
    for (let attempt = 0; ; attempt++) {
      const node = next?.();
      const address = node?.address ?? (callOptions.address as string);
      const left = deadline - Date.now();
      let error: MicroError;
      if (left <= 0)
        error = new MicroError('deadline_exceeded', `${what} exceeded its deadline of ${timeout} ms`);
      else {
        try {
          const transportRequest: TransportRequest = {
            service: request.service,
            endpoint: request.endpoint,
            contentType: codec.contentType,
            metadata: request.metadata,
            timeout: left,
            body,
          };
          if (byReference) transportRequest.value = request.body;
          const response = await transport.request(address, transportRequest, { signal, timeout: left });
          if (response.error === undefined) {
            if (node !== undefined) selector.mark(request.service, node);
            const value =
              'value' in response ? response.value : codecs.get(response.contentType).decode(response.body);
            return { body: value, metadata: response.metadata };
          }
          error = fromWireError(response.error);
        } catch (err) {
          error = signal?.aborted ? abortError(signal, what) : toMicroError(err);
        }
      }
      if (node !== undefined) selector.mark(request.service, node, error);
      if (attempt >= retries || !isRetryable(error)) throw error;
      const pause = Math.min(backoff(attempt + 1), deadline - Date.now());
      if (pause <= 0) throw error;
      await sleep(pause, signal);
    }
  };

  const call = (options.wrappers ?? []).reduceRight<Call>((next, wrap) => wrap(next), send);

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

  const callWithMetadata = <Res, Req>(
    service: string,
    endpoint: string,
    request: Req,
    callOptions: CallOptions = {},
  ): Promise<CallResponse<Res>> =>
    call(
      { service, endpoint, body: request, metadata: mergeMetadata(callOptions.metadata) },
      callOptions,
    ) as Promise<CallResponse<Res>>;

  return {
    selector,
    callWithMetadata,
    call<Res, Req>(service: string, endpoint: string, request: Req, callOptions?: CallOptions): Promise<Res> {
      return callWithMetadata<Res, Req>(service, endpoint, request, callOptions).then(bodyOf);
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
