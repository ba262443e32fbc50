import { randomUUID } from 'node:crypto';
import { abortError, raceSignal } from './abort.js';
import type { Broker, BrokerMessage, Subscription } from './broker.js';
import { type Codec, Codecs } from './codec.js';
import { type CallContext, runWithContext } from './context.js';
import { invalidArgument, MicroError, toMicroError } from './errors.js';
import type { Metadata } from './metadata.js';
import { checkEndpointName, checkQueue, checkServiceName, checkTopic } from './names.js';
import type { Registry, Service } from './registry.js';
import type { Listener, Transport, TransportRequest, TransportResponse } from './transport.js';
import { errorResponse } from './wire.js';

/** Serves one endpoint: gets the decoded request and the call context, returns the response. */
export type Handler = (request: unknown, context: CallContext) => Promise<unknown>;
/** Handler middleware: trace, metrics, auth and monitor wrap every handler. */
export type HandlerWrapper = (next: Handler) => Handler;

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

  const handlers = new Map<string, { handler: Handler; metadata: Record<string, string> }>();
  const subscribers: { topic: string; queue: string | undefined; handler: SubscriberHandler }[] = [];
  const subscriptions: Subscription[] = [];
  const inFlight = new Set<Promise<unknown>>();
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

  const serve = async (
    request: TransportRequest,
    transportSignal: AbortSignal,
  ): Promise<TransportResponse> => {
    if (state !== 'running')
      return errorResponse(new MicroError('unavailable', `server ${name} is not accepting calls`));
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
    const signals = [transportSignal, killer.signal];
    if (request.timeout !== undefined) signals.push(AbortSignal.timeout(Math.max(1, request.timeout)));
    const signal = AbortSignal.any(signals);
    const work = (async (): Promise<TransportResponse> => {
      const codec = codecs.get(request.contentType);
      const body = codec.decode(request.body);
      const context: CallContext = {
        service: name,
        endpoint: request.endpoint,
        contentType: codec.contentType,
        metadata: request.metadata,
        deadline: request.timeout === undefined ? undefined : Date.now() + request.timeout,
        signal,
        responseMetadata: {},
      };
      const result = await runWithContext(context, () => entry.handler(body, context));
      return {
        contentType: codec.contentType,
        metadata: context.responseMetadata,
        body: codec.encode(result),
      };
    })();
    inFlight.add(work);
    try {
      return await raceSignal(work, killer.signal, `call to ${name}.${request.endpoint}`);
    } catch (err) {
      return errorResponse(killer.signal.aborted ? abortError(killer.signal, 'call') : toMicroError(err));
    } finally {
      inFlight.delete(work);
      work.catch(() => undefined);
    }
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
      const typed = handler as (request: unknown, context: CallContext) => unknown;
      handlers.set(endpoint, {
        handler: wrap(async (request, context) => typed(request, context)),
        metadata: handleOptions.metadata ?? {},
      });
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
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...inFlight]),
          new Promise((resolve) => {
            timer = setTimeout(resolve, grace);
          }),
        ]);
        clearTimeout(timer);
      }
      killer.abort(new MicroError('unavailable', `server ${name} stopped before the call finished`));
      await listener?.close();
      state = 'stopped';
    },
    async [Symbol.asyncDispose]() {
      await this.stop();
    },
  };
}
