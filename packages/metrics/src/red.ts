import {
  type ClientWrapper,
  type HandlerWrapper,
  type SubscriberWrapper,
  toMicroError,
} from '@micro-os/core';
import type { Counter, Gauge, Histogram, HistogramOptions, Metrics } from './metrics.js';

export interface RedOptions {
  /** Prefix of the metric names. @default 'micro' */
  prefix?: string | undefined;
  /** Duration buckets, seconds. @default 0.0005 to 10 */
  buckets?: readonly number[] | undefined;
}

/** Latency buckets from half a millisecond (in-process calls) to ten seconds. */
export const defaultDurationBuckets: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

interface Series {
  requests: Counter;
  inFlight: Gauge;
  duration: Histogram;
  errors: Counter;
}

/**
 * The four RED collectors of one side (`server`, `client`, `subscriber`), and a cache of their label-bound
 * series per key, so a call costs one map lookup plus the prom-client updates.
 */
function red(metrics: Metrics, side: string, labels: readonly string[], options: RedOptions, what: string) {
  const prefix = `${options.prefix ?? 'micro'}_${side}`;
  const histogramOptions: HistogramOptions = {
    help: `Duration of ${what}, seconds`,
    labels,
    buckets: options.buckets ?? defaultDurationBuckets,
  };
  const requests = metrics.counter(`${prefix}_${side === 'subscriber' ? 'messages' : 'requests'}_total`, {
    help: `${what} completed`,
    labels,
  });
  const errors = metrics.counter(`${prefix}_errors_total`, {
    help: `${what} that failed, by MicroError code`,
    labels: [...labels, 'code'],
  });
  const inFlight = metrics.gauge(`${prefix}_${side === 'subscriber' ? 'messages' : 'requests'}_in_flight`, {
    help: `${what} in progress`,
    labels,
  });
  const duration = metrics.histogram(
    `${prefix}_${side === 'subscriber' ? 'message' : 'request'}_duration_seconds`,
    histogramOptions,
  );
  const cache = new Map<string, Series>();
  return (key: string, values: Record<string, string>): Series => {
    let series = cache.get(key);
    if (series === undefined) {
      series = {
        requests: requests.withLabels(values),
        inFlight: inFlight.withLabels(values),
        duration: duration.withLabels(values),
        errors: errors.withLabels(values),
      };
      cache.set(key, series);
    }
    return series;
  };
}

async function measure<T>(series: Series, work: () => Promise<T>): Promise<T> {
  series.inFlight.inc();
  const start = performance.now();
  try {
    return await work();
  } catch (err) {
    series.errors.withLabels({ code: toMicroError(err).code }).inc();
    throw err;
  } finally {
    series.inFlight.dec();
    series.requests.inc();
    series.duration.observe((performance.now() - start) / 1000);
  }
}

/**
 * RED metrics of the calls a client makes, by target service and endpoint: `micro_client_requests_total`,
 * `micro_client_errors_total{code}`, `micro_client_request_duration_seconds`, `micro_client_requests_in_flight`.
 */
export function metricsClient(metrics: Metrics, options: RedOptions = {}): ClientWrapper {
  const seriesOf = red(metrics, 'client', ['service', 'endpoint'], options, 'calls made');
  return (next) => (request, callOptions) =>
    measure(
      seriesOf(`${request.service}\u0000${request.endpoint}`, {
        service: request.service,
        endpoint: request.endpoint,
      }),
      () => next(request, callOptions),
    );
}

/** RED metrics of the calls a server serves, by service and endpoint (`micro_server_*`). */
export function metricsHandler(metrics: Metrics, options: RedOptions = {}): HandlerWrapper {
  const seriesOf = red(metrics, 'server', ['service', 'endpoint'], options, 'calls served');
  return (next) => (request, context) =>
    measure(
      seriesOf(`${context.service}\u0000${context.endpoint}`, {
        service: context.service,
        endpoint: context.endpoint,
      }),
      () => next(request, context),
    );
}

/** RED metrics of the messages subscribers handle, by topic (`micro_subscriber_messages_total`...). */
export function metricsSubscriber(metrics: Metrics, options: RedOptions = {}): SubscriberWrapper {
  const seriesOf = red(metrics, 'subscriber', ['topic'], options, 'messages handled');
  return (next) => (message) =>
    measure(seriesOf(message.topic, { topic: message.topic }), () => next(message));
}
