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

/** What the mixin returns outside a span; the merge strategy below never writes into it. */
const none: object = Object.freeze({});

/** pino `mixin`: the trace fields of the active span. */
export const traceMixin = (): object => traceFields() ?? none;

/** pino `mixinMergeStrategy`: trace fields first, then the line's fields; no copy outside a span. */
export const traceMerge = (fields: object, mixed: object): object =>
  mixed === none ? fields : Object.assign(mixed, fields);
