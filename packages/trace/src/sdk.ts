import { invalidArgument, MicroError } from '@micro-os/core';
import { type Attributes, context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';

export interface SetupTracingOptions {
  /** `service.name` of every span this process exports. */
  serviceName: string;
  /** `service.version`. @default unset */
  serviceVersion?: string | undefined;
  /** Where spans go. @default an OTLP/HTTP exporter (OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318) */
  exporter?: SpanExporter | undefined;
  /** `batch` queues spans and exports them every few seconds; `simple` exports each span as it ends (tests). @default 'batch' */
  processor?: 'batch' | 'simple' | undefined;
  /** Extra resource attributes (`deployment.environment.name`...). @default {} */
  resourceAttributes?: Attributes | undefined;
  /** Detect host, OS and process resource attributes. @default true */
  detectResources?: boolean | undefined;
  /** @default parent-based, always on (or OTEL_TRACES_SAMPLER) */
  sampler?: Sampler | undefined;
}

/** A running tracing setup. */
export interface Tracing {
  /** Exports every span ended so far. */
  forceFlush(): Promise<void>;
  /** Flushes, shuts the SDK down and unregisters the global provider, context manager and propagator. */
  shutdown(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

let running = false;

/**
 * Starts the OpenTelemetry Node SDK for the common case: a tracer provider with a batch processor over the
 * exporter, the AsyncLocalStorage context manager, W3C trace-context and baggage propagators, and resource
 * attributes naming the service. Metrics and logs are left to @micro-os/metrics and @micro-os/log. One per process.
 */
export function setupTracing(options: SetupTracingOptions): Tracing {
  if (typeof options.serviceName !== 'string' || options.serviceName === '')
    throw invalidArgument(
      `serviceName must be a non-empty string, got ${JSON.stringify(options.serviceName)}`,
    );
  const kind = options.processor ?? 'batch';
  if (kind !== 'batch' && kind !== 'simple')
    throw invalidArgument(`processor must be 'batch' or 'simple', got ${JSON.stringify(kind)}`);
  if (running)
    throw new MicroError(
      'failed_precondition',
      'tracing is already set up in this process; shut it down first',
    );
  const exporter = options.exporter ?? new OTLPTraceExporter();
  const processor: SpanProcessor =
    kind === 'batch' ? new BatchSpanProcessor({ exporter }) : new SimpleSpanProcessor({ exporter });
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    resource: resourceFromAttributes({
      ...options.resourceAttributes,
      ...(options.serviceVersion === undefined ? {} : { 'service.version': options.serviceVersion }),
    }),
    autoDetectResources: options.detectResources ?? true,
    spanProcessors: [processor],
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.sampler === undefined ? {} : { sampler: options.sampler }),
  });
  sdk.start();
  running = true;
  let stopped: Promise<void> | undefined;
  return {
    forceFlush: () => processor.forceFlush(),
    shutdown() {
      stopped ??= (async () => {
        try {
          await sdk.shutdown();
        } finally {
          trace.disable();
          context.disable();
          propagation.disable();
          running = false;
        }
      })();
      return stopped;
    },
    async [Symbol.asyncDispose]() {
      await this.shutdown();
    },
  };
}

export { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
export { formatTraceTree } from './tree.js';
