import { context, isSpanContextValid, ROOT_CONTEXT, trace } from '@opentelemetry/api';

/**
 * `{ trace_id, span_id, trace_flags }` of the active span, or undefined when no valid span is active. Outside
 * any context (no SDK, or no span started on this path) the context manager answers the root context, which
 * holds no span: that one comparison is all a line pays then.
 */
export function traceFields(): Record<string, string> | undefined {
  const active = context.active();
  if (active === ROOT_CONTEXT) return undefined;
  const span = trace.getSpan(active);
  if (span === undefined) return undefined;
  const ids = span.spanContext();
  if (!isSpanContextValid(ids)) return undefined;
  return {
    trace_id: ids.traceId,
    span_id: ids.spanId,
    trace_flags: ids.traceFlags.toString(16).padStart(2, '0'),
  };
}
