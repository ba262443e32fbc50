import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { setupTracing, type Tracing } from './sdk.js';

/** Tracing set up for tests and demos: every span ends up in memory as soon as it ends. */
export interface MemoryTracing extends Tracing {
  readonly exporter: InMemorySpanExporter;
  /** The spans ended so far, in the order they ended. */
  spans(): ReadableSpan[];
  /** Forgets the spans ended so far. */
  reset(): void;
}

/** Registers the SDK globally with an in-memory exporter and a simple processor; `shutdown()` unregisters it. */
export function memoryTracing(options: { serviceName?: string } = {}): MemoryTracing {
  const exporter = new InMemorySpanExporter();
  const tracing = setupTracing({
    serviceName: options.serviceName ?? 'test',
    exporter,
    processor: 'simple',
    detectResources: false,
  });
  return {
    ...tracing,
    exporter,
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
  };
}
