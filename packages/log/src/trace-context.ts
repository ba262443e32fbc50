import { isSpanContextValid, trace } from '@opentelemetry/api';

/** `{ trace_id, span_id, trace_flags }` of the active span, or undefined when no valid span is active. */
export function traceFields(): Record<string, string> | undefined {
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return undefined;
  return {
    trace_id: context.traceId,
    span_id: context.spanId,
    trace_flags: context.traceFlags.toString(16).padStart(2, '0'),
  };
}
