import { toMicroError } from '@micro-os/core';
import {
  ProxyTracerProvider,
  type Span,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from './attributes.js';

export interface TraceOptions {
  /** Where spans come from. @default the global provider (`trace.getTracerProvider()`), looked up on every call */
  tracerProvider?: TracerProvider | undefined;
}

const tracerName = '@micro-os/trace';
const tracerVersion = '0.1.0';
/** The provider the API hands out while no SDK is registered. */
const noopProvider = new ProxyTracerProvider().getDelegate();

/**
 * Returns a function giving the tracer to use for one call, or undefined when no SDK is registered: the
 * wrappers then call straight through, at the cost of one global lookup.
 */
export function tracerSource(options: TraceOptions): () => Tracer | undefined {
  let cachedFor: TracerProvider | undefined;
  let cached: Tracer | undefined;
  return () => {
    const given = options.tracerProvider ?? trace.getTracerProvider();
    const provider = given instanceof ProxyTracerProvider ? given.getDelegate() : given;
    if (provider === noopProvider) return undefined;
    if (provider !== cachedFor) {
      cachedFor = provider;
      cached = provider.getTracer(tracerName, tracerVersion);
    }
    return cached;
  };
}

/** What `whenSettled` calls when a traced call or message is done: records a failure, then ends the span. */
export function endSpan(span: Span): (failed: boolean, error: unknown) => void {
  return (failed, error) => {
    if (failed) recordError(span, error);
    span.end();
  };
}

/** Marks the span failed: status ERROR with the message, `error.type` = the MicroError code, an exception event. */
export function recordError(span: Span, err: unknown): void {
  if (!span.isRecording()) return;
  const error = toMicroError(err);
  span.setAttribute(ATTR_ERROR_TYPE, error.code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${error.code}: ${error.message}` });
  span.recordException(error);
}
