import { isSpanContextValid, TraceFlags, trace } from '@opentelemetry/api';

/** `{ trace_id, span_id }` of the active sampled span, or undefined when no span is active or tracing is off. */
export function activeExemplar(): Record<string, string> | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const context = span.spanContext();
  if (!isSpanContextValid(context) || (context.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  return { trace_id: context.traceId, span_id: context.spanId };
}
