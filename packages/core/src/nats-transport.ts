import { randomUUID } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { abortError } from './abort.js';
import { invalidArgument, isMicroError, MicroError, toMicroError } from './errors.js';
import { checkNatsSubject, natsError, natsLink } from './nats-link.js';
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
  requestWithPromise,
  TickBatcher,
  type Transport,
  type TransportHandler,
  type TransportRequest,
  type TransportResponse,
} from './transport.js';
import {
  type BatchMember,
  batchHeaderSize,
  batchMemberOverhead,
  cancelFrame,
  decodeRequest,
  decodeRequestBatch,
  decodeResponse,
  decodeResponseBatch,
  encodeRequest,
  encodeRequestBatch,
  encodeResponse,
  encodeResponseBatch,
  errorResponse,
  isCancel,
  isRequestBatch,
} from './wire.js';

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
 * Requests (and responses) smaller than this share a message with the others sent to the same subject in the
 * same tick; a batch grows to at most this size (or the server's max_payload) before it goes out.
 */
const batchLimit = 64 * 1024;

/** The requests that went out in one batch: a no-responders answer to the batch fails them all. */
interface SentBatch {
  readonly id: number;
  readonly table: Map<number, SentBatch>;
  readonly members: Pending[];
  remaining: number;
}

/**
 * Request/response over NATS. Each listener subscribes its own subject; each transport has ONE wildcard reply
 * subscription (`_INBOX.<uuid>.*`) and tells responses apart by a correlation id in the reply subject, rather
 * than opening an inbox per request. Requests to a subject nobody listens on fail at once with `unavailable`
 * (the server's no-responders status), and so do requests made while the connection is down.
 *
 * Requests made to one listener in the same tick travel as one message (a batch of frames tagged with their
 * correlation ids, reply subject `_INBOX.<uuid>.b<batch>`), and the listener answers them in batches too: with
 * many calls in flight, NATS routes a few large messages instead of one per call. A lone request goes as it is.
 */
export function natsTransport(options: NatsTransportOptions = {}): Transport {
  const maxSize = options.maxMessageSize ?? defaultMaxMessageSize;
  if (!Number.isInteger(maxSize) || maxSize <= 0) {
    throw invalidArgument(`maxMessageSize must be a positive integer, got ${maxSize}`);
  }
  const prefix = checkNatsSubject(options.subjectPrefix ?? 'micro.rpc', 'subjectPrefix');
  const pending = new Map<number, Pending>();
  const batches = new Map<number, SentBatch>();
  let nextBatch = 0;
  const failAll = (error: MicroError): void => {
    for (const entry of [...pending.values()]) entry.fail(error);
  };
  const link = natsLink(options, 'nats transport', failAll);
  const inbox = `_INBOX.${randomUUID()}.`;
  const listeners = new Set<Listener>();
  let replies: Subscription | undefined;
  let nextId = 0;
  let closed = false;

  const onBatchReply = (batch: SentBatch | undefined, msg: Msg): void => {
    if (batch === undefined) return;
    const data = msg.data;
    if (data.byteLength === 0 && msg.headers?.code === 503) {
      const error = new MicroError(
        'unavailable',
        `no listener at ${batch.members[0]?.address ?? 'its address'}`,
      );
      for (const entry of batch.members) entry.fail(error);
      return;
    }
    let members: BatchMember[];
    try {
      members = decodeResponseBatch(data);
    } catch (error) {
      for (const entry of batch.members) entry.fail(toMicroError(error));
      return;
    }
    for (const { id, frame } of members) {
      const entry = pending.get(id);
      if (entry === undefined) continue;
      try {
        entry.succeed(decodeResponse(frame));
      } catch (error) {
        entry.fail(toMicroError(error));
      }
    }
  };

  const onReply = (err: Error | null, msg: Msg): void => {
    if (err !== null) {
      replies = undefined; // the next request subscribes again
      failAll(new MicroError('unavailable', 'nats transport reply subscription failed', { cause: err }));
      return;
    }
    const token = msg.subject.slice(inbox.length);
    if (token.charCodeAt(0) === 98 /* b */) {
      onBatchReply(batches.get(Number(token.slice(1))), msg);
      return;
    }
    const entry = pending.get(Number(token));
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

  /** Sends what was queued for one subject: a lone request as it is, several as one batch. */
  const send = (subject: string, live: Pending[], frames: Uint8Array[]): void => {
    const first = live[0] as Pending;
    try {
      const nc = link.current;
      if (nc === undefined || !link.up)
        throw new MicroError('unavailable', 'nats transport is disconnected from the server');
      if (live.length === 1) {
        nc.publish(subject, frames[0] as Uint8Array, { reply: `${inbox}${first.id}` });
        first.sent = true;
        return;
      }
      nextBatch = nextBatch === 0xffffffff ? 1 : nextBatch + 1;
      const batch: SentBatch = { id: nextBatch, table: batches, members: live, remaining: live.length };
      batches.set(batch.id, batch);
      for (const entry of live) entry.batch = batch;
      const members = live.map((entry, i) => ({ id: entry.id, frame: frames[i] as Uint8Array }));
      nc.publish(subject, encodeRequestBatch(members), { reply: `${inbox}b${batch.id}` });
      for (const entry of live) entry.sent = true;
    } catch (error) {
      for (const entry of live)
        entry.fail(isMicroError(error) ? error : natsError(error, describeRequest(entry.request)));
    }
  };
  const batcher = new TickBatcher<Pending>(send);

  /**
   * Sends a request: at once when no other is in flight (a caller waiting on each answer in turn pays nothing for
   * batching), else queued for the end of this tick, so that the requests made together go together.
   */
  const enqueue = (nc: NatsConnection, subject: string, frame: Uint8Array, entry: Pending): void => {
    if (pending.size === 1 && !batcher.waiting) {
      try {
        nc.publish(subject, frame, { reply: `${inbox}${entry.id}` });
        entry.sent = true;
      } catch (error) {
        entry.fail(natsError(error, describeRequest(entry.request)));
      }
      return;
    }
    batcher.add(subject, entry, frame, batchLimitOf(nc));
  };

  /** Tells the listener that a request it has was cancelled by its caller (best effort: an answer may cross it). */
  const cancel = (entry: Pending): void => {
    const nc = link.current;
    if (nc === undefined || !link.up) return;
    try {
      nc.publish(subjectOf(entry.address), cancelFrame, { reply: `${inbox}${entry.id}` });
    } catch {
      // Closed or disconnected meanwhile: the handler's deadline stops it.
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
      nextId = nextId === 0xffffffff ? 1 : nextId + 1;
      const id = nextId;
      const entry = new Pending(id, pending, address, request, receiver, signal, cancel);
      pending.set(id, entry);
      if (signal !== undefined) signal.addEventListener('abort', entry, { once: true });
      if (timeout !== undefined)
        entry.cancelTimer = atDeadline(Date.now() + timeout, () => expire(entry, timeout));
      enqueue(nc, subject, frame, entry);
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
      /** Calls whose handlers are still running, by the reply subject (prefix) and id that name them. */
      const running = new Map<string, AbortController>();
      const publishReply = (reply: string, frame: Uint8Array): void => {
        try {
          nc.publish(reply, frame);
        } catch {
          // The connection is closed or closing: the caller's deadline or disconnect handling answers it.
        }
      };
      const responseFrame = (response: TransportResponse): Uint8Array => {
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
        return frame;
      };
      /** The handler's answer to a request frame; a frame that does not decode or a throw is an error response. */
      const answer = (
        frame: Uint8Array,
        call: CallSignal,
      ): TransportResponse | Promise<TransportResponse> => {
        try {
          return handler(decodeRequest(frame), call);
        } catch (error) {
          return errorResponse(toMicroError(error));
        }
      };
      // A handler that answers at once is replied to in the same turn as the request arrived, and was never
      // cancellable; one that answers later is, by the reply subject of its request, until it answers.
      const serveOne = (reply: string, data: Uint8Array): void => {
        const call = new AbortController();
        const response = answer(data, call);
        if (!(response instanceof Promise)) {
          publishReply(reply, responseFrame(response));
          return;
        }
        running.set(reply, call);
        response.then(
          (res) => {
            running.delete(reply);
            publishReply(reply, responseFrame(res));
          },
          (error: unknown) => {
            running.delete(reply);
            publishReply(reply, responseFrame(errorResponse(toMicroError(error))));
          },
        );
      };

      // The answers to batched requests, by reply subject: those ready together go back together.
      const answers = new Map<string, BatchMember[]>();
      let answering = false;
      const sendAnswers = (reply: string, members: BatchMember[]): void => {
        const limit = batchLimitOf(nc);
        let start = 0;
        let bytes = batchHeaderSize;
        for (let i = 0; i < members.length; i++) {
          const size = batchMemberOverhead + (members[i] as BatchMember).frame.byteLength;
          if (i > start && bytes + size > limit) {
            publishReply(reply, encodeResponseBatch(members.slice(start, i)));
            start = i;
            bytes = batchHeaderSize;
          }
          bytes += size;
        }
        publishReply(reply, encodeResponseBatch(start === 0 ? members : members.slice(start)));
      };
      const flushAnswers = (): void => {
        answering = false;
        for (const [reply, members] of answers) sendAnswers(reply, members);
        answers.clear();
      };
      const queueAnswer = (reply: string, id: number, response: TransportResponse): void => {
        const member = { id, frame: responseFrame(response) };
        const list = answers.get(reply);
        if (list === undefined) answers.set(reply, [member]);
        else list.push(member);
        if (!answering) {
          answering = true;
          process.nextTick(flushAnswers);
        }
      };
      const serveBatch = (reply: string, data: Uint8Array): void => {
        let members: BatchMember[];
        try {
          members = decodeRequestBatch(data);
        } catch {
          return; // not from a micro-os client: without correlation ids there is no one to answer
        }
        const ready: BatchMember[] = [];
        // A member is named as its lone request would be: the caller's reply prefix and its id.
        const callPrefix = reply.slice(0, reply.lastIndexOf('.') + 1);
        for (const { id, frame } of members) {
          const call = new AbortController();
          const response = answer(frame, call);
          if (!(response instanceof Promise)) {
            ready.push({ id, frame: responseFrame(response) });
            continue;
          }
          const name = `${callPrefix}${id}`;
          running.set(name, call);
          response.then(
            (res) => {
              running.delete(name);
              queueAnswer(reply, id, res);
            },
            (error: unknown) => {
              running.delete(name);
              queueAnswer(reply, id, errorResponse(toMicroError(error)));
            },
          );
        }
        if (ready.length > 0) sendAnswers(reply, ready);
      };
      const serve = (msg: Msg): void => {
        const reply = msg.reply;
        if (reply === undefined || reply === '') return;
        const data = msg.data;
        if (isRequestBatch(data)) serveBatch(reply, data);
        else if (isCancel(data))
          running.get(reply)?.abort(new MicroError('aborted', 'the caller cancelled the call'));
        else serveOne(reply, data);
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
          const reason = new MicroError('unavailable', `listener ${subject} closed`);
          for (const call of running.values()) call.abort(reason);
          running.clear();
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
  /** The batch it went out in, if it shared a message. */
  batch: SentBatch | undefined = undefined;
  /** Published (not still queued for the end of the tick): a cancel must reach the listener. */
  sent = false;

  constructor(
    readonly id: number,
    readonly table: Map<number, Pending>,
    readonly address: string,
    request: TransportRequest,
    receiver: ResponseReceiver,
    signal: AbortSignal | undefined,
    readonly cancel: (entry: Pending) => void,
  ) {
    super(request, signal, receiver);
  }

  /** The caller's signal aborted: fails the call, and tells the listener when it has the request. */
  override handleEvent(): void {
    if (this.settled) return;
    super.handleEvent();
    if (this.sent) this.cancel(this);
  }

  override finish(): boolean {
    if (!super.finish()) return false;
    this.table.delete(this.id);
    const batch = this.batch;
    if (batch !== undefined && --batch.remaining === 0) batch.table.delete(batch.id);
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

/** The largest batch for a connection: the batch limit, or the server's max_payload if that is smaller. */
function batchLimitOf(nc: NatsConnection): number {
  const max = nc.info?.max_payload;
  return max !== undefined && max < batchLimit ? max : batchLimit;
}

function tooBig(what: string, size: number, max: number): MicroError {
  return oversized(what, size, max, "the NATS server's max_payload");
}
