/**
 * Tracing (in memory, or OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set), logs carrying the trace ids, RED
 * metrics and health checks, with the `/metrics` and `/health` endpoints of the demo.
 */
import { createLogger, type Logger, streamOutput } from '@micro-os/log';
import { createMetrics, type Metrics, type MetricsServer, serveMetrics } from '@micro-os/metrics';
import { createMonitor, type Monitor, type MonitorServer, serveMonitor } from '@micro-os/monitor';
import { formatTraceTree, setupTracing, type Tracing } from '@micro-os/trace/sdk';
import { memoryTracing } from '@micro-os/trace/testing';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly monitor: Monitor;
  /** Where spans go: `memory`, or the OTLP endpoint. */
  readonly traceSink: string;
  /** Forgets the spans and log lines recorded so far. */
  reset(): void;
  /** The spans ended since the last reset (none when exporting over OTLP). */
  spans(): ReadableSpan[];
  /** The log lines written since the last reset, parsed. */
  logLines(): Record<string, unknown>[];
  close(): Promise<void>;
}

export function startObservability(): Observability {
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const memory = endpoint === undefined ? memoryTracing({ serviceName: 'micro-os-demo' }) : undefined;
  const tracing: Tracing = memory ?? setupTracing({ serviceName: 'micro-os-demo' });
  const lines: string[] = [];
  const logger = createLogger({
    service: 'micro-os-demo',
    outputs: [streamOutput({ write: (line: string) => void lines.push(line) })],
  });
  const metrics = createMetrics({ processMetrics: false });
  const monitor = createMonitor({ service: 'greeter' });
  return {
    logger,
    metrics,
    monitor,
    traceSink: endpoint ?? 'memory',
    reset() {
      memory?.reset();
      lines.length = 0;
    },
    spans: () => memory?.spans() ?? [],
    logLines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    async close() {
      await monitor.close();
      await logger.close();
      await metrics.close();
      await tracing.shutdown();
    },
  };
}

/** The trace tree of the spans of one trace, one span a line, without the repeated service.name. */
export function traceTree(spans: readonly ReadableSpan[], traceId: string): string[] {
  const ofTrace = spans.filter((span) => span.spanContext().traceId === traceId);
  if (ofTrace.length === 0) return [];
  return formatTraceTree(ofTrace)
    .split('\n')
    .map((line) => line.replace(/ service\.name=\S+/, ''));
}

/** A log line shortened to what the demo shows. */
export function logLine(line: Record<string, unknown>): string {
  const { level, instance, msg, trace_id, span_id } = line;
  return JSON.stringify({ level, instance, msg, trace_id, span_id });
}

export interface Endpoints {
  readonly metrics: MetricsServer;
  readonly health: MonitorServer;
  close(): Promise<void>;
}

/** `/metrics` and `/health` on loopback: on free ports, or on 9464 and 8080 with `fixed`. */
export async function serveEndpoints(o: Observability, fixed: boolean): Promise<Endpoints> {
  const metrics = await serveMetrics(o.metrics, { port: fixed ? 9464 : 0 });
  const health = await serveMonitor(o.monitor, { port: fixed ? 8080 : 0 });
  return {
    metrics,
    health,
    async close() {
      await metrics.close();
      await health.close();
    },
  };
}

/** GETs `url` once and answers its status and body. */
export async function fetchOnce(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { headers: { connection: 'close' } });
  return { status: res.status, body: await res.text() };
}
