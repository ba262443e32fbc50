import type { ClientWrapper, PublishWrapper } from '@micro-os/core';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { messagingAttributes, rpcAttributes } from './attributes.js';
import { metadataSetter } from './carrier.js';
import { recordError, type TraceOptions, tracerSource } from './tracer.js';

/**
 * A CLIENT span per call, named `service/endpoint`, child of the active span; its context goes out in the
 * call's metadata as W3C `traceparent`/`tracestate`. Retries happen below the wrapper: one span per call.
 */
export function traceClient(options: TraceOptions = {}): ClientWrapper {
  const tracing = tracerSource(options);
  return (next) => async (request, callOptions) => {
    const tracer = tracing();
    if (tracer === undefined) return next(request, callOptions);
    const parent = context.active();
    const span = tracer.startSpan(
      `${request.service}/${request.endpoint}`,
      { kind: SpanKind.CLIENT, attributes: rpcAttributes(request.service, request.endpoint) },
      parent,
    );
    const active = trace.setSpan(parent, span);
    propagation.inject(active, request.metadata, metadataSetter);
    try {
      return await context.with(active, next, undefined, request, callOptions);
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  };
}

/** A PRODUCER span per published message, named `publish <topic>`; its context rides in the message metadata. */
export function tracePublish(options: TraceOptions = {}): PublishWrapper {
  const tracing = tracerSource(options);
  return (next) => async (message, publishOptions) => {
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
    try {
      await context.with(active, next, undefined, message, publishOptions);
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  };
}
