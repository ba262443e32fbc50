import {
  type CallOptions,
  type CallRequest,
  type CallResponse,
  type ClientWrapper,
  type PublishMessage,
  type PublishOptions,
  type PublishWrapper,
  whenSettled,
} from '@micro-os/core';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { messagingAttributes, rpcNaming } from './attributes.js';
import { metadataSetter } from './carrier.js';
import { endSpan, type TraceOptions, tracerSource } from './tracer.js';

const settleCall = whenSettled<CallRequest, CallOptions, CallResponse>;
const settlePublish = whenSettled<PublishMessage, PublishOptions, void>;

/**
 * A CLIENT span per call, named `service/endpoint`, child of the active span; its context goes out in the
 * call's metadata as W3C `traceparent`/`tracestate`. Retries happen below the wrapper: one span per call.
 */
export function traceClient(options: TraceOptions = {}): ClientWrapper {
  const tracing = tracerSource(options);
  return (next) => (request, callOptions) => {
    const tracer = tracing();
    if (tracer === undefined) return next(request, callOptions);
    const parent = context.active();
    const { name, attributes } = rpcNaming(request.service, request.endpoint);
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
    const active = trace.setSpan(parent, span);
    propagation.inject(active, request.metadata, metadataSetter);
    return context.with(active, settleCall, undefined, next, request, callOptions, endSpan(span));
  };
}

/** A PRODUCER span per published message, named `publish <topic>`; its context rides in the message metadata. */
export function tracePublish(options: TraceOptions = {}): PublishWrapper {
  const tracing = tracerSource(options);
  return (next) => (message, publishOptions) => {
    const tracer = tracing();
    if (tracer === undefined) return next(message, publishOptions);
    const parent = context.active();
    const span = tracer.startSpan(
      `publish ${message.topic}`,
      { kind: SpanKind.PRODUCER, attributes: messagingAttributes(message.topic, 'publish') },
      parent,
    );
    const active = trace.setSpan(parent, span);
    propagation.inject(active, message.metadata, metadataSetter);
    return context.with(active, settlePublish, undefined, next, message, publishOptions, endSpan(span));
  };
}
