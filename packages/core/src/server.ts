import { randomUUID } from 'node:crypto';
import { sleep } from './abort.js';
import type { Broker, BrokerMessage, Subscription } from './broker.js';
import { type Codec, Codecs } from './codec.js';
import { type CallContext, runWithContext } from './context.js';
import { invalidArgument, MicroError, toMicroError } from './errors.js';
import type { Metadata } from './metadata.js';
import { checkEndpointName, checkQueue, checkServiceName, checkTopic } from './names.js';
import type { Registry, Service } from './registry.js';
import { ServerContext } from './server-context.js';
import type { CallSignal, Listener, Transport, TransportRequest, TransportResponse } from './transport.js';
import { errorResponse } from './wire.js';

const empty = new Uint8Array(0);

/** Serves one endpoint: gets the decoded request and the call context, returns the response. */
export type Handler = (request: unknown, context: CallContext) => Promise<unknown>;
/** Handler middleware: trace, metrics, auth and monitor wrap every handler. */
export type HandlerWrapper = (next: Handler) => Handler;
/** A registered endpoint as the server calls it: answers with a value or a promise of one. */
type Serve = (request: unknown, context: CallContext) => unknown;

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value instanceof Promise ||
  (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function');

/** A message delivered to a subscriber, decoded. */
export interface Message {
  topic: string;
  body: unknown;
  metadata: Metadata;
  contentType: string;
}
export type SubscriberHandler = (message: Message) => Promise<void>;
export type SubscriberWrapper = (next: SubscriberHandler) => SubscriberHandler;

export interface ServerOptions {
  name: string;
  /** @default 'latest' */
  version?: string | undefined;
  registry: Registry;
  transport: Transport;
  broker?: Broker | undefined;
  codecs?: readonly Codec[] | undefined;
  /** Metadata advertised for this node (selectors filter on it). */
  metadata?: Record<string, string> | undefined;
  /** Applied in order: the first wrapper is the outermost. */
  wrappers?: readonly HandlerWrapper[] | undefined;
  subscriberWrappers?: readonly SubscriberWrapper[] | undefined;
  /** Registration TTL in ms; the server re-registers every ttl/3. @default 30000 */
  registerTtl?: number | undefined;
  /** Milliseconds in-flight calls get to finish on stop before they are answered `unavailable`. @default 5000 */
  gracePeriod?: number | undefined;
  /** Transport address to listen on. @default chosen by the transport */
  address?: string | undefined;
  /** Called with errors from subscribers and background re-registration. @default console.error */
  onError?: ((error: unknown) => void) | undefined;
}

export interface HandleOptions {
  metadata?: Record<string, string>;
}

export interface Server {
  readonly name: string;
  readonly id: string;
  /** The listening address once started. */
  readonly address: string | undefined;
  handle<Req = unknown, Res = unknown>(
    endpoint: string,
    handler: (request: Req, context: CallContext) => Res | Promise<Res>,
    options?: HandleOptions,
  ): void;
  subscribe<T = unknown>(
    topic: string,
    handler: (message: T, context: Omit<Message, 'body'>) => void | Promise<void>,
    options?: { queue?: string },
  ): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The response carrying a handler's result: by reference for an in-process caller, else encoded. */
function answer(
  context: ServerContext,
  codec: Codec,
  byReference: boolean,
  result: unknown,
): TransportResponse {
  context.release();
  if (byReference) {
    return { contentType: codec.contentType, metadata: context.responseMetadata, body: empty, value: result };
  }
  try {
    return { contentType: codec.contentType, metadata: context.responseMetadata, body: codec.encode(result) };
  } catch (err) {
    return errorResponse(toMicroError(err));
  }
}

function failure(context: ServerContext, err: unknown): TransportResponse {
  context.release();
  return errorResponse(toMicroError(err));
}

/** Builds a server: endpoint handlers and subscribers, registration with TTL, graceful stop. */
export function createServer(options: ServerOptions): Server {
  const name = checkServiceName(options.name);
  const version = options.version ?? 'latest';
  const id = `${name}-${randomUUID()}`;
  const codecs = new Codecs(options.codecs);
  const ttl = options.registerTtl ?? 30_000;
  const grace = options.gracePeriod ?? 5000;
  const onError = options.onError ?? ((error: unknown) => console.error(`micro-os server ${name}:`, error));
  if (!(ttl > 0)) throw invalidArgument(`registerTtl must be > 0 ms, got ${ttl}`);
  if (!(grace >= 0)) throw invalidArgument(`gracePeriod must be >= 0 ms, got ${grace}`);
  const wrap = (h: Handler): Handler =>
    (options.wrappers ?? []).reduceRight<Handler>((next, w) => w(next), h);
  const wrapSubscriber = (h: SubscriberHandler): SubscriberHandler =>
    (options.subscriberWrappers ?? []).reduceRight<SubscriberHandler>((next, w) => w(next), h);

  const handlers = new Map<string, { serve: Serve; metadata: Record<string, string> }>();
  const subscribers: { topic: string; queue: string | undefined; handler: SubscriberHandler }[] = [];
  const subscriptions: Subscription[] = [];
  /** Calls whose handler is still running, with how to answer them early on stop. */
  const inFlight = new Map<ServerContext, (response: TransportResponse) => void>();
  const killer = new AbortController();
  let listener: Listener | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';

  const describe = (): Service => ({
    name,
    version,
    metadata: {},
    endpoints: [...handlers].map(([endpoint, h]) => ({ name: endpoint, metadata: h.metadata })),
    nodes: [{ id, address: listener?.address ?? '', metadata: { ...options.metadata } }],
  });

  const serve = (
    request: TransportRequest,
    call: CallSignal,
  ): TransportResponse | Promise<TransportResponse> => {
    if (state !== 'running') {
      return errorResponse(new MicroError('unavailable', `server ${name} is not accepting calls`));
    }
    if (request.service !== name) {
      return errorResponse(
        new MicroError('not_found', `service ${request.service} is not served at ${listener?.address}`),
      );
    }
    const entry = handlers.get(request.endpoint);
    if (entry === undefined) {
      return errorResponse(
        new MicroError(
          'unimplemented',
          `service ${name} has no endpoint ${JSON.stringify(request.endpoint)}`,
          {
            details: { endpoint: request.endpoint },
          },
        ),
      );
    }
    const byReference = 'value' in request;
    let codec: Codec;
    let body: unknown;
    try {
      codec = codecs.get(request.contentType);
      body = byReference ? request.value : codec.decode(request.body);
    } catch (err) {
      return errorResponse(toMicroError(err));
    }
    const context = new ServerContext(name, request, codec.contentType, call, killer.signal);
    let result: unknown;
    try {
      result = runWithContext(context, entry.serve, body, context);
    } catch (err) {
      return failure(context, err);
    }
    // A handler that answered at once is answered at once: no promise, no in-flight entry.
    if (!isThenable(result)) return answer(context, codec, byReference, result);
    return new Promise<TransportResponse>((resolve) => {
      inFlight.set(context, resolve);
      result.then(
        (value) => {
          if (inFlight.delete(context)) resolve(answer(context, codec, byReference, value));
        },
        (err: unknown) => {
          if (inFlight.delete(context)) resolve(failure(context, err));
        },
      );
    });
  };

  const register = async (): Promise<void> => {
    await options.registry.register(describe(), { ttl });
  };

  return {
    name,
    id,
    get address() {
      return listener?.address;
    },
    handle(endpoint, handler, handleOptions = {}) {
      checkEndpointName(endpoint);
      if (typeof handler !== 'function') throw invalidArgument(`handler for ${endpoint} must be a function`);
      if (handlers.has(endpoint))
        throw new MicroError('already_exists', `endpoint ${endpoint} already has a handler`);
      const typed = handler as Serve;
      // Without wrappers the handler is called as it is, so one that answers synchronously costs no promise.
      const serve: Serve =
        options.wrappers === undefined || options.wrappers.length === 0
          ? typed
          : wrap((request, context) => {
              // The promise wrappers expect, without an async function's extra turns for a handler that
              // already returns one.
              try {
                const result = typed(request, context);
                return result instanceof Promise ? result : Promise.resolve(result);
              } catch (err) {
                return Promise.reject(err);
              }
            });
      handlers.set(endpoint, { serve, metadata: handleOptions.metadata ?? {} });
    },
    subscribe(topic, handler, subscribeOptions = {}) {
      checkTopic(topic);
      const queue = subscribeOptions.queue === undefined ? undefined : checkQueue(subscribeOptions.queue);
      if (options.broker === undefined)
        throw new MicroError('failed_precondition', `server ${name} has no broker to subscribe with`);
      if (state !== 'new') throw new MicroError('failed_precondition', 'subscribe before start');
      const typed = handler as (message: unknown, context: Omit<Message, 'body'>) => void | Promise<void>;
      subscribers.push({
        topic,
        queue,
        handler: wrapSubscriber(async (message) => {
          const { body, ...rest } = message;
          await typed(body, rest);
        }),
      });
    },
    async start() {
      if (state !== 'new') throw new MicroError('failed_precondition', `server ${name} was already started`);
      state = 'running';
      try {
        listener = await options.transport.listen(
          serve,
          options.address === undefined ? {} : { address: options.address },
        );
        for (const s of subscribers) {
          const deliver = async (raw: BrokerMessage): Promise<void> => {
            try {
              const body = codecs.get(raw.contentType).decode(raw.body);
              await s.handler({
                topic: raw.topic,
                body,
                metadata: raw.metadata,
                contentType: raw.contentType,
              });
            } catch (error) {
              onError(error);
            }
          };
          subscriptions.push(
            await (options.broker as Broker).subscribe(s.topic, deliver, { queue: s.queue }),
          );
        }
        await register();
      } catch (err) {
        await this.stop();
        throw toMicroError(err, 'unavailable');
      }
      heartbeat = setInterval(() => register().catch(onError), ttl / 3);
      heartbeat.unref();
    },
    async stop() {
      if (state === 'stopped' || state === 'stopping') return;
      state = 'stopping';
      if (heartbeat !== undefined) clearInterval(heartbeat);
      if (listener !== undefined) await options.registry.deregister(describe()).catch(onError);
      await Promise.all(subscriptions.map((s) => s.unsubscribe().catch(onError)));
      const deadline = Date.now() + grace;
      while (inFlight.size > 0 && Date.now() < deadline) await sleep(Math.min(10, deadline - Date.now()));
      const reason = new MicroError('unavailable', `server ${name} stopped before the call finished`);
      killer.abort(reason);
      for (const [context, resolve] of [...inFlight]) {
        inFlight.delete(context);
        context.abort(reason);
        resolve(errorResponse(reason));
      }
      await listener?.close();
      state = 'stopped';
    },
    async [Symbol.asyncDispose]() {
      await this.stop();
    },
  };
}
