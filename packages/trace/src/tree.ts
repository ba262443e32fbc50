import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

const kinds: Record<SpanKind, string> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

const millis = (span: ReadableSpan): string => (span.duration[0] * 1e3 + span.duration[1] / 1e6).toFixed(2);
const startOf = (span: ReadableSpan): number => span.startTime[0] * 1e9 + span.startTime[1];

/**
 * Renders finished spans as one indented tree per trace, children under their parent in start order:
 * `service/endpoint [server] 1.23 ms service.name=orders`, with `ERROR <message>` on failed spans.
 */
export function formatTraceTree(spans: readonly ReadableSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const children = new Map<string, ReadableSpan[]>();
  const roots: ReadableSpan[] = [];
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    if (parent === undefined || !ids.has(parent)) roots.push(span);
    else children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const lines: string[] = [];
  const visit = (span: ReadableSpan, depth: number): void => {
    const service = span.resource.attributes['service.name'];
    const status =
      span.status.code === SpanStatusCode.ERROR ? ` ERROR ${span.status.message ?? ''}`.trimEnd() : '';
    lines.push(
      `${'  '.repeat(depth)}${span.name} [${kinds[span.kind]}] ${millis(span)} ms` +
        `${service === undefined ? '' : ` service.name=${String(service)}`}${status}`,
    );
    const below = children.get(span.spanContext().spanId) ?? [];
    for (const child of below.sort((a, b) => startOf(a) - startOf(b))) visit(child, depth + 1);
  };
  let lastTrace: string | undefined;
  for (const root of roots.sort((a, b) => startOf(a) - startOf(b))) {
    const traceId = root.spanContext().traceId;
    if (traceId !== lastTrace) lines.push(`trace ${traceId}`);
    lastTrace = traceId;
    visit(root, 1);
  }
  return lines.join('\n');
}
