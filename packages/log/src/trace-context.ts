import { isSpanContextValid, trace } from '@opentelemetry/api';

const none = {};

/** `{ trace_id, span_id, trace_flags }` of the active span, for pino's mixin; `{}` when none is active. */
export function traceFields(): object {
  const span = trace.getActiveSpan();
  if (span === undefined) return none;
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return none;
  return {
    trace_id: context.traceId,
    span_id: context.spanId,
    trace_flags: context.traceFlags.toString(16).padStart(2, '0'),
  };
}
