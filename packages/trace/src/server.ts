import type { HandlerWrapper, SubscriberWrapper } from '@micro-os/core';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { messagingAttributes, rpcAttributes } from './attributes.js';
import { metadataGetter } from './carrier.js';
import { recordError, type TraceOptions, tracerSource } from './tracer.js';

/**
 * A SERVER span per call served, named `service/endpoint`, child of the caller's span carried in the metadata
 * (or of the active span when the metadata has none). The handler runs with the span active, so the calls it
 * makes and the spans user code starts are its children.
 */
export function traceHandler(options: TraceOptions = {}): HandlerWrapper {
  const tracing = tracerSource(options);
  return (next) => async (request, callContext) => {
    const tracer = tracing();
    if (tracer === undefined) return next(request, callContext);
    const parent = propagation.extract(context.active(), callContext.metadata, metadataGetter);
    const span = tracer.startSpan(
      `${callContext.service}/${callContext.endpoint}`,
      { kind: SpanKind.SERVER, attributes: rpcAttributes(callContext.service, callContext.endpoint) },
      parent,
    );
    try {
      return await context.with(trace.setSpan(parent, span), next, undefined, request, callContext);
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  };
}

/** A CONSUMER span per message handled, named `process <topic>`, child of the publisher's span. */
export function traceSubscriber(options: TraceOptions = {}): SubscriberWrapper {
  const tracing = tracerSource(options);
  return (next) => async (message) => {
    const tracer = tracing();
    if (tracer === undefined) return next(message);
    const parent = propagation.extract(context.active(), message.metadata, metadataGetter);
    const span = tracer.startSpan(
      `process ${message.topic}`,
      { kind: SpanKind.CONSUMER, attributes: messagingAttributes(message.topic, 'process') },
      parent,
    );
    try {
      await context.with(trace.setSpan(parent, span), next, undefined, message);
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  };
}
