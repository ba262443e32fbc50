import { type HandlerWrapper, type Message, type SubscriberWrapper, whenSettled } from '@micro-os/core';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { messagingAttributes, rpcNaming } from './attributes.js';
import { metadataGetter } from './carrier.js';
import { endSpan, type TraceOptions, tracerSource } from './tracer.js';

const settleMessage = whenSettled<Message, undefined, void>;

/**
 * A SERVER span per call served, named `service/endpoint`, child of the caller's span carried in the metadata
 * (or of the active span when the metadata has none). The handler runs with the span active, so the calls it
 * makes and the spans user code starts are its children.
 */
export function traceHandler(options: TraceOptions = {}): HandlerWrapper {
  const tracing = tracerSource(options);
  return (next) => (request, callContext) => {
    const tracer = tracing();
    if (tracer === undefined) return next(request, callContext);
    const parent = propagation.extract(context.active(), callContext.metadata, metadataGetter);
    const { name, attributes } = rpcNaming(callContext.service, callContext.endpoint);
    const span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    const active = trace.setSpan(parent, span);
    return context.with(active, whenSettled, undefined, next, request, callContext, endSpan(span));
  };
}

/** A CONSUMER span per message handled, named `process <topic>`, child of the publisher's span. */
export function traceSubscriber(options: TraceOptions = {}): SubscriberWrapper {
  const tracing = tracerSource(options);
  return (next) => (message) => {
    const tracer = tracing();
    if (tracer === undefined) return next(message);
    const parent = propagation.extract(context.active(), message.metadata, metadataGetter);
    const span = tracer.startSpan(
      `process ${message.topic}`,
      { kind: SpanKind.CONSUMER, attributes: messagingAttributes(message.topic, 'process') },
      parent,
    );
    const active = trace.setSpan(parent, span);
    return context.with(active, settleMessage, undefined, next, message, undefined, endSpan(span));
  };
}
