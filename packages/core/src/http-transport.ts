import { randomUUID } from 'node:crypto';
import {
  Agent,
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { abortError } from './abort.js';
import { fromWireError, invalidArgument, MicroError, toMicroError } from './errors.js';
import { asBuffer, checkSize, oversized } from './size.js';
import { atDeadline } from './timer-wheel.js';
import {
  defaultMaxMessageSize,
  type Listener,
  type ListenOptions,
  PendingRequest,
  type RequestOptions,
  type ResponseReceiver,
  requestWithPromise,
  TickBatcher,
  type Transport,
  type TransportHandler,
  type TransportRequest,
  type TransportResponse,
} from './transport.js';
import {
  type BatchMember,
  batchMemberOverhead,
  cancelFrame,
  decodeRequest,
  decodeRequestBatch,
  decodeResponse,
  encodeBatchRecords,
  encodeRequest,
  encodeRequestBatch,
  encodeResponse,
  errorResponse,
  isCancel,
  isRequestBatch,
  takeBatchRecords,
} from './wire.js';

export interface HttpTransportOptions {
  /** Interface the listener binds. @default '127.0.0.1' */
  host?: string;
  /** Port the listener binds; 0 picks a free one. @default 0 */
  port?: number;
  /** Largest message body accepted, in bytes. @default 4 MiB */
  maxMessageSize?: number;
  /** Keep-alive agent for outgoing requests; a given agent is left open on close. @default a keep-alive Agent of the transport's own */
  agent?: Agent;
  /** Sockets per peer address of the transport's own agent. @default 64 */
  maxSockets?: number;
}

/** The path every request is POSTed to, and the content type of its frames. */
export const rpcPath = '/micro/rpc';
export const frameContentType = 'application/x-micro-frame';

/** Calls made together to one address share a POST up to this many bytes of frames. */
const batchLimit = 64 * 1024;

/** Room the frame header gets on top of the body limit. */
const headerAllowance = 64 * 1024;

interface Target {
  host: string;
  port: number;
}

/**
 * Request/response over node:http with a keep-alive agent: each request is one POST of a wire frame to
 * `/micro/rpc`. The listener's address is `http://host:port`. Requests made to one address in the same tick
 * while others are in flight share one POST (a batch of frames, each with its id), and the listener streams
 * their answers back in one response, each as soon as its handler is done.
 */
export function httpTransport(options: HttpTransportOptions = {}): Transport {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const maxSize = options.maxMessageSize ?? defaultMaxMessageSize;
  const maxSockets = options.maxSockets ?? 64;
  if (typeof host !== 'string' || host === '')
    throw invalidArgument(`host must be a non-empty string, got ${JSON.stringify(host)}`);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw invalidArgument(`port must be an integer from 0 to 65535, got ${port}`);
  if (!Number.isInteger(maxSize) || maxSize <= 0)
    throw invalidArgument(`maxMessageSize must be a positive integer, got ${maxSize}`);
  if (!Number.isInteger(maxSockets) || maxSockets <= 0)
    throw invalidArgument(`maxSockets must be a positive integer, got ${maxSockets}`);
  const maxFrame = maxSize + headerAllowance;
  const ownAgent = options.agent === undefined;
  const agent = options.agent ?? new Agent({ keepAlive: true, maxSockets });
  const listeners = new Set<Listener>();
  const targets = new Map<string, Target>();
  const counter: Counter = { inFlight: 0 };
  let closed = false;

  const target = (address: string): Target => {
    let found = targets.get(address);
    if (found === undefined) {
      found = parseAddress(address);
      targets.set(address, found);
    }
    return found;
  };
  /** Calls made while others were in flight, by address, sent at the end of the tick. */
  /** Names this transport's batch POSTs, so that a member can be cancelled on its own. */
  const caller = randomUUID();
  let batches = 0;
  const batcher = new TickBatcher<SentCall>((address, calls, frames) => {
    batches = batches === Number.MAX_SAFE_INTEGER ? 1 : batches + 1;
    sendQueued(agent, target(address), calls, frames, maxFrame, `${caller}.${batches}`);
  });

  const requestTo = (
    address: string,
    request: TransportRequest,
    opts: RequestOptions,
    receiver: ResponseReceiver,
  ): void => {
    if (closed) {
      receiver.onError(new MicroError('unavailable', 'http transport is closed'));
      return;
    }
    let to: Target;
    try {
      to = target(address);
    } catch (error) {
      receiver.onError(toMicroError(error));
      return;
    }
    const alone = counter.inFlight === 0;
    const prepared = prepare(address, request, opts, maxSize, maxFrame, receiver, counter);
    if (prepared === undefined) return;
    const { call, frame } = prepared;
    // Nothing else in flight (a caller waiting on each answer in turn), or too large to share: a POST of its own.
    if ((alone && !batcher.waiting) || frame.byteLength + batchMemberOverhead > batchLimit) {
      sendOne(agent, to, call, frame);
      return;
    }
    batcher.add(address, call, frame, batchLimit);
  };

  return {
    name: 'http',
    async listen(handler: TransportHandler, listenOptions: ListenOptions = {}): Promise<Listener> {
      if (closed) throw new MicroError('unavailable', 'http transport is closed');
      const bind = listenOptions.address === undefined ? { host, port } : parseAddress(listenOptions.address);
      const endpoint: Endpoint = {
        handler,
        maxSize,
        maxFrame,
        active: new Set(),
        members: new Map(),
        drained: undefined,
      };
      const listener = await serve(endpoint, bind, (l) => listeners.delete(l));
      listeners.add(listener);
      return listener;
    },
    request: (address, request, options = {}) => requestWithPromise(requestTo, address, request, options),
    requestTo,
    async close() {
      if (closed) return;
      closed = true;
      const closing = new MicroError('unavailable', 'http transport closed');
      for (const call of batcher.drain()) call.fail(closing);
      await Promise.all([...listeners].map((l) => l.close()));
      if (ownAgent) agent.destroy();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

function parseAddress(address: string): Target {
  let url: URL;
  try {
    url = new URL(address.includes('://') ? address : `http://${address}`);
  } catch (cause) {
    throw new MicroError('invalid_argument', `invalid http address ${JSON.stringify(address)}`, { cause });
  }
  if (url.protocol !== 'http:')
    throw invalidArgument(`http address must use http://, got ${JSON.stringify(address)}`);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? 80 : Number(url.port) };
}

function formatAddress(info: AddressInfo): string {
  const wildcard = info.address === '0.0.0.0' || info.address === '::';
  const host = wildcard ? '127.0.0.1' : info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return `http://${host}:${info.port}`;
}

// ---------------------------------------------------------------------------------------------------------
// Server side. Per-request state lives in one object; its listeners are small closures. Nothing is stored on
// node:http's own objects: a property added to them gives them a second shape and slows node:http's code.
// ---------------------------------------------------------------------------------------------------------

/** One listener's state shared by its requests. */
interface Endpoint {
  readonly handler: TransportHandler;
  readonly maxSize: number;
  readonly maxFrame: number;
  /** Requests whose handler is running: aborted when the listener closes. */
  readonly active: Set<ServedCall>;
  /** The running members of batches, by `<batch name>.<member id>`: what a caller's cancel names. */
  readonly members: Map<string, AbortController>;
  drained: (() => void) | undefined;
}

/**
 * A batch POST carries its name (`<caller uuid>.<batch number>`) in this header; a caller that gives up on one
 * member while the others still wait POSTs a cancel frame naming `<batch name>.<member id>` in `callHeader`, and
 * that member's handler signal aborts. (A lone request is cancelled by closing its connection.)
 */
const batchHeader = 'x-micro-batch';
const callHeader = 'x-micro-call';

/** Frames up to this size go out as latin1 strings: node:http then sends headers and body in one write. */
const stringFrameLimit = 16 * 1024;

/**
 * What to hand to `end()`: node:http writes its header and a string body in one `write`, but a Buffer body after
 * the header with a `writev` (a third more system time on small messages). A latin1 string holds each byte as it
 * is, so the bytes on the wire are the same.
 */
function body(frame: Uint8Array): Uint8Array | string {
  return frame.byteLength > stringFrameLimit ? frame : asBuffer(frame).toString('latin1');
}

function reply(res: ServerResponse, status: number, frame: Uint8Array): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': frameContentType, 'content-length': frame.byteLength });
  res.end(body(frame), 'latin1');
}

function errorFrame(error: MicroError): Uint8Array {
  return encodeResponse(errorResponse(error));
}

class ServedCall {
  size = 0;
  first: Buffer | undefined = undefined;
  chunks: Buffer[] | undefined = undefined;
  overflow = false;
  running = false;
  /** The handler's cancellation (its signal is made on first use). */
  readonly controller = new AbortController();
  /** A batch's members whose handlers are still running, each cancellable on its own. */
  batchCalls: Set<AbortController> | undefined = undefined;
  /** Batch answers still to come, and those ready to be written. */
  open = 0;
  later: BatchMember[] | undefined = undefined;

  constructor(
    readonly endpoint: Endpoint,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  data(chunk: Buffer): void {
    this.size += chunk.byteLength;
    const { maxFrame } = this.endpoint;
    if (this.overflow) {
      // Read and drop what the caller still sends so that it sees the answer; one that keeps going is cut off.
      if (this.size > 2 * maxFrame) this.req.destroy();
      return;
    }
    if (this.size > maxFrame) {
      this.overflow = true;
      this.first = undefined;
      this.chunks = undefined;
      reply(this.res, 413, errorFrame(oversized('request', this.size, maxFrame)));
      return;
    }
    if (this.first === undefined) this.first = chunk;
    else if (this.chunks === undefined) this.chunks = [this.first, chunk];
    else this.chunks.push(chunk);
  }

  end(): void {
    if (this.overflow) return;
    const frame =
      this.chunks === undefined ? (this.first ?? Buffer.alloc(0)) : Buffer.concat(this.chunks, this.size);
    this.first = undefined;
    this.chunks = undefined;
    if (isRequestBatch(frame)) {
      this.runBatch(frame);
      return;
    }
    if (isCancel(frame)) {
      const name = this.req.headers[callHeader];
      if (typeof name === 'string')
        this.endpoint.members.get(name)?.abort(new MicroError('aborted', 'the caller cancelled the call'));
      reply(this.res, 200, new Uint8Array(0));
      return;
    }
    let request: TransportRequest;
    try {
      request = decodeRequest(frame);
      checkSize(request.body, this.endpoint.maxSize, 'request');
    } catch (err) {
      reply(this.res, 400, errorFrame(toMicroError(err, 'invalid_argument')));
      return;
    }
    this.run(request);
  }

  run(request: TransportRequest): void {
    const { endpoint, res } = this;
    let response: TransportResponse | Promise<TransportResponse>;
    try {
      response = endpoint.handler(request, this.controller);
    } catch (err) {
      response = errorResponse(toMicroError(err));
    }
    // A handler that answered at once is replied to at once, without registering the call as running.
    if (!(response instanceof Promise)) {
      reply(res, 200, this.frame(response));
      return;
    }
    this.running = true;
    endpoint.active.add(this);
    res.on('close', () => this.closed());
    response.then(
      (answer) => this.finish(this.frame(answer)),
      (err: unknown) => this.finish(errorFrame(toMicroError(err))),
    );
  }

  /**
   * Serves a batch of requests: the answers ready at once go back together; when some handlers answer later, the
   * response streams (chunked), each answer written as soon as it is ready, so a slow call holds up no other.
   */
  runBatch(frame: Buffer): void {
    const { endpoint, res } = this;
    let members: BatchMember[];
    try {
      members = decodeRequestBatch(frame);
    } catch (err) {
      reply(res, 400, errorFrame(toMicroError(err, 'invalid_argument')));
      return;
    }
    const ready: BatchMember[] = [];
    const batchName = this.req.headers[batchHeader];
    for (const { id, frame: member } of members) {
      // Each member its own cancellation: the caller may give up on one while the others still wait.
      const call = new AbortController();
      let response: TransportResponse | Promise<TransportResponse>;
      try {
        const request = decodeRequest(member);
        checkSize(request.body, endpoint.maxSize, 'request');
        response = endpoint.handler(request, call);
      } catch (err) {
        response = errorResponse(toMicroError(err));
      }
      if (!(response instanceof Promise)) {
        ready.push({ id, frame: this.frame(response) });
        continue;
      }
      this.open++;
      this.batchCalls ??= new Set();
      this.batchCalls.add(call);
      const name = typeof batchName === 'string' ? `${batchName}.${id}` : undefined;
      if (name !== undefined) endpoint.members.set(name, call);
      const done = (frame: Uint8Array): void => {
        this.batchCalls?.delete(call);
        if (name !== undefined) endpoint.members.delete(name);
        this.answerLater(id, frame);
      };
      response.then(
        (answer) => done(this.frame(answer)),
        (err: unknown) => done(errorFrame(toMicroError(err))),
      );
    }
    if (this.open === 0) {
      reply(res, 200, encodeBatchRecords(ready));
      return;
    }
    this.running = true;
    endpoint.active.add(this);
    res.on('close', () => this.closed());
    res.writeHead(200, { 'content-type': frameContentType });
    if (ready.length > 0) res.write(encodeBatchRecords(ready));
  }

  /** One later answer of a batch: written with the others ready in the same tick; the last one ends the response. */
  answerLater(id: number, frame: Uint8Array): void {
    this.open--;
    if (this.later === undefined) {
      this.later = [];
      process.nextTick(() => this.writeLater());
    }
    this.later.push({ id, frame });
  }

  writeLater(): void {
    const { res } = this;
    const later = this.later ?? [];
    this.later = undefined;
    if (!res.destroyed) res.write(encodeBatchRecords(later));
    if (this.open > 0) return;
    const { endpoint } = this;
    this.running = false;
    endpoint.active.delete(this);
    if (endpoint.active.size === 0) endpoint.drained?.();
    if (!res.destroyed) res.end();
  }

  frame(response: TransportResponse): Uint8Array {
    const { maxSize } = this.endpoint;
    try {
      return response.body.byteLength > maxSize
        ? errorFrame(oversized('response', response.body.byteLength, maxSize))
        : encodeResponse(response);
    } catch (err) {
      return errorFrame(toMicroError(err));
    }
  }

  finish(frame: Uint8Array): void {
    const { endpoint } = this;
    this.running = false;
    endpoint.active.delete(this);
    if (endpoint.active.size === 0) endpoint.drained?.();
    reply(this.res, 200, frame);
  }

  abort(reason: MicroError): void {
    if (!this.running) return;
    this.controller.abort(reason);
    if (this.batchCalls !== undefined) for (const call of this.batchCalls) call.abort(reason);
  }

  /** The response closed: before the handler answered, that means the caller went away. */
  closed(): void {
    if (this.running)
      this.abort(new MicroError('aborted', 'the caller closed the connection before the answer'));
  }
}

async function serve(
  endpoint: Endpoint,
  bind: Target,
  onClosed: (listener: Listener) => void,
): Promise<Listener> {
  const server: Server = createServer((req, res) => {
    if (req.url !== rpcPath || req.method !== 'POST') {
      req.resume();
      reply(
        res,
        404,
        errorFrame(new MicroError('not_found', `no micro-os endpoint at ${req.method} ${req.url}`)),
      );
      return;
    }
    const call = new ServedCall(endpoint, req, res);
    req.on('data', (chunk: Buffer) => call.data(chunk));
    req.on('end', () => call.end());
  });
  // Errors after listening (a socket failing) concern one connection, which node:http already closes.
  server.on('error', () => undefined);
  const address = await new Promise<string>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const code = err.code === 'EADDRINUSE' ? 'already_exists' : 'unavailable';
      reject(
        new MicroError(code, `cannot listen on ${bind.host}:${bind.port}: ${err.message}`, { cause: err }),
      );
    };
    server.once('error', onError);
    server.listen(bind.port, bind.host, () => {
      server.off('error', onError);
      resolve(formatAddress(server.address() as AddressInfo));
    });
  });

  let closing: Promise<void> | undefined;
  const listener: Listener = {
    address,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        if (endpoint.active.size > 0) {
          const reason = new MicroError('unavailable', `listener at ${address} closed`);
          for (const call of endpoint.active) call.abort(reason);
          // The handlers were told to stop: give them a moment to answer before the sockets go.
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            new Promise<void>((resolve) => {
              endpoint.drained = resolve;
            }),
            new Promise<void>((resolve) => {
              timer = setTimeout(resolve, closeGrace);
            }),
          ]);
          clearTimeout(timer);
        }
        server.closeAllConnections();
        await stopped;
        onClosed(listener);
      })();
      return closing;
    },
  };
  return listener;
}

/** How long a closing listener waits for aborted handlers to answer before it drops their connections. */
const closeGrace = 1000;

// ---------------------------------------------------------------------------------------------------------
// Client side, in the same style: one object per request, small closures as its listeners.
// ---------------------------------------------------------------------------------------------------------

/** Requests in flight on one transport: a request made while others are goes into the tick's batch. */
interface Counter {
  inFlight: number;
}

class SentCall extends PendingRequest {
  size = 0;
  first: Buffer | undefined = undefined;
  chunks: Buffer[] | undefined = undefined;
  req: ClientRequest | undefined = undefined;
  /** The batch it went out in, if it shared a POST with others, and its id there. */
  batch: SentBatch | undefined = undefined;
  member = 0;
  counted = false;

  constructor(
    readonly address: string,
    request: TransportRequest,
    signal: AbortSignal | undefined,
    readonly maxSize: number,
    readonly maxFrame: number,
    receiver: ResponseReceiver,
    readonly counter: Counter,
  ) {
    super(request, signal, receiver);
  }

  override get what(): string {
    return `${super.what} at ${this.address}`;
  }

  override finish(): boolean {
    if (!super.finish()) return false;
    if (this.counted) this.counter.inFlight--;
    this.batch?.settledOne();
    return true;
  }

  fail(error: MicroError): void {
    if (!this.finish()) return;
    if (this.batch === undefined) this.req?.destroy();
    this.receiver.onError(error);
  }

  /** The caller's signal aborted: a lone request's connection is closed; a batch member is cancelled by name. */
  override handleEvent(): void {
    if (this.settled) return;
    super.handleEvent();
    this.batch?.cancel(this.member);
  }

  failed(err: Error): void {
    if (!this.settled)
      this.fail(new MicroError('unavailable', `${this.what} failed: ${err.message}`, { cause: err }));
  }

  responded(res: IncomingMessage): void {
    res.on('data', (chunk: Buffer) => this.data(chunk));
    res.on('end', () => this.end(res.statusCode ?? 0));
    res.on('error', (err: Error) => this.failed(err));
    res.on('close', () => {
      if (!this.settled)
        this.fail(
          new MicroError('unavailable', `${this.what}: connection closed before the response was complete`),
        );
    });
  }

  data(chunk: Buffer): void {
    this.size += chunk.byteLength;
    if (this.size > this.maxFrame) {
      this.fail(oversized('response', this.size, this.maxFrame));
      return;
    }
    if (this.first === undefined) this.first = chunk;
    else if (this.chunks === undefined) this.chunks = [this.first, chunk];
    else this.chunks.push(chunk);
  }

  end(status: number): void {
    if (!this.finish()) return;
    const frame =
      this.chunks === undefined ? (this.first ?? Buffer.alloc(0)) : Buffer.concat(this.chunks, this.size);
    this.deliver(frame, status);
  }

  /** Its answer in a batch's response. */
  answer(frame: Uint8Array): void {
    if (this.finish()) this.deliver(frame, 200);
  }

  deliver(frame: Uint8Array, status: number): void {
    let response: TransportResponse;
    try {
      response = decodeResponse(frame);
    } catch (err) {
      this.receiver.onError(
        status === 200
          ? toMicroError(err)
          : new MicroError(
              status >= 500 ? 'unavailable' : 'internal',
              `${this.what} answered HTTP ${status}`,
              {
                cause: err,
              },
            ),
      );
      return;
    }
    if (response.body.byteLength > this.maxSize) {
      this.receiver.onError(oversized('response', response.body.byteLength, this.maxSize));
      return;
    }
    this.receiver.onResponse(response);
  }
}

/**
 * Requests that went out in one POST: the response streams their answers back as records, each handed to its
 * call as it arrives. A call that gives up (deadline, abort) leaves the others waiting; once none waits, a
 * response still running is cut off, as a single call's would be.
 */
class SentBatch {
  readonly calls = new Map<number, SentCall>();
  req: ClientRequest | undefined = undefined;
  open = 0;
  answered = 0;
  status = 0;
  size = 0;
  rest: Buffer | undefined = undefined;
  errorChunks: Buffer[] = [];

  constructor(
    readonly maxFrame: number,
    readonly agent: Agent,
    readonly to: Target,
    readonly name: string,
  ) {}

  /**
   * Tells the listener that one member was given up on while others still wait (once none waits, the POST is cut
   * off, which aborts them all). Best effort: the answer may cross it.
   */
  cancel(member: number): void {
    if (this.open === 0) return;
    const req = post(this.agent, this.to, cancelFrame, [callHeader, `${this.name}.${member}`]);
    req.on('error', () => undefined);
    req.on('response', (res: IncomingMessage) => res.resume());
  }

  settledOne(): void {
    if (--this.open === 0 && this.answered < this.calls.size) this.req?.destroy();
  }

  failAll(error: MicroError): void {
    for (const call of this.calls.values()) call.fail(error);
  }

  data(chunk: Buffer): void {
    if (this.status !== 200) {
      this.size += chunk.byteLength;
      if (this.size <= this.maxFrame) this.errorChunks.push(chunk);
      return;
    }
    const bytes = this.rest === undefined ? chunk : Buffer.concat([this.rest, chunk]);
    const { members, rest } = takeBatchRecords(bytes);
    this.rest = rest.byteLength > 0 ? rest : undefined;
    for (const { id, frame } of members) {
      const call = this.calls.get(id);
      if (call === undefined || call.settled) continue;
      this.answered++;
      call.answer(frame);
    }
    if (rest.byteLength > this.maxFrame + batchMemberOverhead) {
      this.failAll(oversized('response', rest.byteLength, this.maxFrame));
      this.req?.destroy();
    }
  }

  end(): void {
    if (this.status === 200) {
      this.failAll(new MicroError('unavailable', 'the batch response ended before every answer'));
      return;
    }
    const frame = Buffer.concat(this.errorChunks);
    let error: MicroError;
    try {
      const response = decodeResponse(frame);
      error =
        response.error === undefined
          ? new MicroError('internal', `batch answered HTTP ${this.status}`)
          : fromWireError(response.error);
    } catch (cause) {
      error = new MicroError(
        this.status >= 500 ? 'unavailable' : 'internal',
        `batch answered HTTP ${this.status}`,
        { cause },
      );
    }
    this.failAll(error);
  }
}

function onSentTimeout(call: SentCall, timeout: number): void {
  call.fail(new MicroError('deadline_exceeded', `${call.what} timed out after ${timeout} ms`));
}

/**
 * Makes the call for one request, with its deadline and abort listener; undefined when it failed at once (the
 * receiver has heard).
 */
function prepare(
  address: string,
  request: TransportRequest,
  opts: RequestOptions,
  maxSize: number,
  maxFrame: number,
  receiver: ResponseReceiver,
  counter: Counter,
): { call: SentCall; frame: Uint8Array } | undefined {
  const { signal, timeout } = opts;
  const call = new SentCall(address, request, signal, maxSize, maxFrame, receiver, counter);
  if (signal?.aborted) {
    receiver.onError(abortError(signal, call.what));
    return undefined;
  }
  if (timeout !== undefined && timeout <= 0) {
    receiver.onError(new MicroError('deadline_exceeded', `${call.what}: no time left`));
    return undefined;
  }
  if (request.body.byteLength > maxSize) {
    receiver.onError(oversized('request', request.body.byteLength, maxSize));
    return undefined;
  }
  let frame: Uint8Array;
  try {
    frame = encodeRequest(request);
  } catch (error) {
    receiver.onError(toMicroError(error));
    return undefined;
  }
  call.counted = true;
  counter.inFlight++;
  if (timeout !== undefined)
    call.cancelTimer = atDeadline(Date.now() + timeout, () => onSentTimeout(call, timeout));
  signal?.addEventListener('abort', call);
  return { call, frame };
}

function post(
  agent: Agent,
  to: Target,
  frame: Uint8Array,
  name?: [header: string, value: string],
): ClientRequest {
  const headers: Record<string, string | number> = {
    'content-type': frameContentType,
    'content-length': frame.byteLength,
  };
  if (name !== undefined) headers[name[0]] = name[1];
  const req = httpRequest({ agent, host: to.host, port: to.port, method: 'POST', path: rpcPath, headers });
  req.end(body(frame), 'latin1');
  return req;
}

/** Sends one call as its own POST. */
function sendOne(agent: Agent, to: Target, call: SentCall, frame: Uint8Array): void {
  const req = post(agent, to, frame);
  call.req = req;
  req.on('error', (err: Error) => call.failed(err));
  req.on('response', (res: IncomingMessage) => call.responded(res));
}

/** Sends the calls queued for one address: a lone one as it is, several as one POST of a request batch. */
function sendQueued(
  agent: Agent,
  to: Target,
  live: SentCall[],
  frames: Uint8Array[],
  maxFrame: number,
  name: string,
): void {
  if (live.length === 1) {
    sendOne(agent, to, live[0] as SentCall, frames[0] as Uint8Array);
    return;
  }
  const members: BatchMember[] = frames.map((frame, id) => ({ id, frame }));
  const batch = new SentBatch(maxFrame, agent, to, name);
  for (let i = 0; i < live.length; i++) {
    const call = live[i] as SentCall;
    call.batch = batch;
    call.member = i;
    batch.calls.set(i, call);
  }
  batch.open = live.length;
  const req = post(agent, to, encodeRequestBatch(members), [batchHeader, name]);
  batch.req = req;
  req.on('error', (err: Error) =>
    batch.failAll(new MicroError('unavailable', `batch request failed: ${err.message}`, { cause: err })),
  );
  req.on('response', (res: IncomingMessage) => {
    batch.status = res.statusCode ?? 0;
    res.on('data', (chunk: Buffer) => batch.data(chunk));
    res.on('end', () => batch.end());
    res.on('error', (err: Error) =>
      batch.failAll(new MicroError('unavailable', `batch response failed: ${err.message}`, { cause: err })),
    );
    res.on('close', () =>
      batch.failAll(
        new MicroError('unavailable', 'connection closed before the batch response was complete'),
      ),
    );
  });
}
