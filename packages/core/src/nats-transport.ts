import { randomUUID } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { abortError } from './abort.js';
import { invalidArgument, isMicroError, MicroError, toMicroError } from './errors.js';
import { checkNatsSubject, natsError, natsLink } from './nats-link.js';
import { checkSize, oversized } from './size.js';
import { atDeadline } from './timer-wheel.js';
import {
  defaultMaxMessageSize,
  describeRequest,
  type Listener,
  type ListenOptions,
  PendingRequest,
  type RequestOptions,
  type ResponseReceiver,
  requestWithPromise,
  type Transport,
  type TransportHandler,
  type TransportRequest,
  type TransportResponse,
} from './transport.js';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse, errorResponse } from './wire.js';

export interface NatsTransportOptions {
  /** A connection to use; the transport leaves it open on close. Exclusive with `servers`. */
  connection?: NatsConnection | undefined;
  /** Servers to connect to, lazily, on first use; the transport owns and closes that connection. @default 'nats://127.0.0.1:4222' */
  servers?: string | string[] | undefined;
  /** Largest request or response body, in bytes (the server's `max_payload` also applies). @default 4 MiB */
  maxMessageSize?: number | undefined;
  /** Subject prefix of the listeners: each listens on `<prefix>.<uuid>`. @default 'micro.rpc' */
  subjectPrefix?: string | undefined;
}

const addressScheme = 'nats:';

/**
 * Request/response over NATS. Each listener subscribes its own subject; each transport has ONE wildcard reply
 * subscription (`_INBOX.<uuid>.*`) and tells responses apart by a correlation id in the reply subject, rather
 * than opening an inbox per request. Requests to a subject nobody listens on fail at once with `unavailable`
 * (the server's no-responders status), and so do requests made while the connection is down.
 */
export function natsTransport(options: NatsTransportOptions = {}): Transport {
  const maxSize = options.maxMessageSize ?? defaultMaxMessageSize;
  if (!Number.isInteger(maxSize) || maxSize <= 0) {
    throw invalidArgument(`maxMessageSize must be a positive integer, got ${maxSize}`);
  }
  const prefix = checkNatsSubject(options.subjectPrefix ?? 'micro.rpc', 'subjectPrefix');
  const pending = new Map<number, Pending>();
  const failAll = (error: MicroError): void => {
    for (const entry of [...pending.values()]) entry.fail(error);
  };
  const link = natsLink(options, 'nats transport', failAll);
  const inbox = `_INBOX.${randomUUID()}.`;
  const listeners = new Set<Listener>();
  let replies: Subscription | undefined;
  let nextId = 0;
  let closed = false;

  const onReply = (err: Error | null, msg: Msg): void => {
    if (err !== null) {
      replies = undefined; // the next request subscribes again
      failAll(new MicroError('unavailable', 'nats transport reply subscription failed', { cause: err }));
      return;
    }
    const entry = pending.get(Number(msg.subject.slice(inbox.length)));
    if (entry === undefined) return;
    const data = msg.data;
    if (data.byteLength === 0 && msg.headers?.code === 503) {
      entry.fail(new MicroError('unavailable', `no listener at ${entry.address}`));
      return;
    }
    try {
      entry.succeed(decodeResponse(data));
    } catch (error) {
      entry.fail(toMicroError(error));
    }
  };

  const publishRequest = (
    nc: NatsConnection,
    subject: string,
    frame: Uint8Array,
    reply: string,
    entry: Pending,
  ) => {
    try {
      nc.publish(subject, frame, { reply });
    } catch (error) {
      entry.fail(natsError(error, describeRequest(entry.request)));
    }
  };

  // Not async: on the hot path (connected), the receiver hears from the reply subscription's callback directly.
  function requestTo(
    address: string,
    request: TransportRequest,
    requestOptions: RequestOptions,
    receiver: ResponseReceiver,
  ): void {
    try {
      const subject = subjectOf(address);
      checkSize(request.body, maxSize, 'request');
      const { signal, timeout } = requestOptions;
      if (signal?.aborted) throw abortError(signal, describeRequest(request));
      if (closed) throw new MicroError('unavailable', 'nats transport is closed');
      const nc = link.current;
      if (nc === undefined) {
        link.connect().then(
          () => requestTo(address, request, requestOptions, receiver),
          (error: unknown) =>
            receiver.onError(isMicroError(error) ? error : natsError(error, describeRequest(request))),
        );
        return;
      }
      if (!link.up) {
        throw new MicroError('unavailable', 'nats transport is disconnected from the server', {
          details: { local: true },
        });
      }
      const frame = encodeRequest(request);
      const max = nc.info?.max_payload;
      if (max !== undefined && frame.byteLength > max) throw tooBig('request', frame.byteLength, max);
      replies ??= nc.subscribe(`${inbox}*`, { callback: onReply });
      const id = ++nextId;
      const entry = new Pending(id, pending, address, request, receiver, signal);
      pending.set(id, entry);
      if (signal !== undefined) signal.addEventListener('abort', entry, { once: true });
      if (timeout !== undefined)
        entry.cancelTimer = atDeadline(Date.now() + timeout, () => expire(entry, timeout));
      publishRequest(nc, subject, frame, `${inbox}${id}`, entry);
    } catch (error) {
      receiver.onError(isMicroError(error) ? error : natsError(error, describeRequest(request)));
    }
  }

  return {
    name: 'nats',

    async listen(handler: TransportHandler, listenOptions: ListenOptions = {}): Promise<Listener> {
      if (closed) throw new MicroError('unavailable', 'nats transport is closed');
      const subject =
        listenOptions.address === undefined
          ? `${prefix}.${randomUUID()}`
          : checkNatsSubject(subjectOf(listenOptions.address), 'address');
      const nc = await link.connect();
      const stopping = new AbortController();
      const publishReply = (reply: string, frame: Uint8Array): void => {
        try {
          nc.publish(reply, frame);
        } catch {
          // The connection is closed or closing: the caller's deadline or disconnect handling answers it.
        }
      };
      const send = (reply: string, response: TransportResponse): void => {
        let frame: Uint8Array;
        try {
          checkSize(response.body, maxSize, 'response');
          frame = encodeResponse(response);
        } catch (error) {
          frame = encodeResponse(errorResponse(toMicroError(error)));
        }
        const max = nc.info?.max_payload;
        if (max !== undefined && frame.byteLength > max) {
          frame = encodeResponse(errorResponse(tooBig('response', frame.byteLength, max)));
        }
        publishReply(reply, frame);
      };
      // A handler that answers at once is replied to in the same turn as the request arrived.
      const serve = (msg: Msg): void => {
        const reply = msg.reply;
        if (reply === undefined || reply === '') return;
        let response: TransportResponse | Promise<TransportResponse>;
        try {
          response = handler(decodeRequest(msg.data), stopping.signal);
        } catch (error) {
          response = errorResponse(toMicroError(error));
        }
        if (!(response instanceof Promise)) {
          send(reply, response);
          return;
        }
        response.then(
          (answer) => send(reply, answer),
          (error: unknown) => send(reply, errorResponse(toMicroError(error))),
        );
      };
      let subscription: Subscription;
      try {
        subscription = nc.subscribe(subject, {
          callback: (err, msg) => {
            if (err === null) serve(msg);
          },
        });
      } catch (error) {
        throw natsError(error, `listen on ${subject}`);
      }
      try {
        await nc.flush();
      } catch (cause) {
        subscription.unsubscribe();
        throw new MicroError('unavailable', `nats transport could not listen on ${subject}`, { cause });
      }
      let open = true;
      const listener: Listener = {
        address: `${addressScheme}${subject}`,
        async close() {
          if (!open) return;
          open = false;
          listeners.delete(listener);
          stopping.abort(new MicroError('unavailable', `listener ${subject} closed`));
          if (subscription.isClosed()) return;
          subscription.unsubscribe();
          await nc.flush().catch(() => undefined);
        },
      };
      listeners.add(listener);
      return listener;
    },

    request: (address, request, options = {}) => requestWithPromise(requestTo, address, request, options),
    requestTo,

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...listeners].map((l) => l.close()));
      failAll(new MicroError('unavailable', 'nats transport closed'));
      if (replies !== undefined && !replies.isClosed()) replies.unsubscribe();
      await link.close();
    },

    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

/** One request awaiting its response; it is its own abort listener, so no closure per request. */
class Pending extends PendingRequest {
  constructor(
    readonly id: number,
    readonly table: Map<number, Pending>,
    readonly address: string,
    request: TransportRequest,
    receiver: ResponseReceiver,
    signal: AbortSignal | undefined,
  ) {
    super(request, signal, receiver);
  }

  override finish(): boolean {
    if (!super.finish()) return false;
    this.table.delete(this.id);
    return true;
  }

  succeed(response: TransportResponse): void {
    if (this.finish()) this.receiver.onResponse(response);
  }

  fail(error: MicroError): void {
    if (this.finish()) this.receiver.onError(error);
  }
}

function expire(entry: Pending, timeout: number): void {
  entry.fail(
    new MicroError('deadline_exceeded', `${describeRequest(entry.request)} timed out after ${timeout} ms`),
  );
}

function subjectOf(address: string): string {
  if (!address.startsWith(addressScheme)) {
    throw invalidArgument(
      `nats transport address must look like "nats:<subject>", got ${JSON.stringify(address)}`,
    );
  }
  return address.slice(addressScheme.length);
}

function tooBig(what: string, size: number, max: number): MicroError {
  return oversized(what, size, max, "the NATS server's max_payload");
}
