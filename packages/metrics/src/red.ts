import {
  type ClientWrapper,
  type HandlerWrapper,
  type SubscriberWrapper,
  toMicroError,
  whenSettled,
} from '@micro-os/core';
import type { Counter, Gauge, Histogram, Metrics } from './metrics.js';

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

/** One label set's RED state: plain numbers on the hot path, written to prom-client before each scrape. */
interface Series {
  requests: number;
  synced: number;
  inFlight: number;
  requestsMetric: Counter;
  inFlightMetric: Gauge;
  duration: Histogram;
  errors: Counter;
  byCode: Map<string, Counter>;
}

/** The series of one label set: one value (subscriber topic) or two (service, endpoint). */
type SeriesOf = (first: string, second?: string) => Series;

/** One RED state per metrics instance and side, shared by every wrapper of that side. */
const states = new WeakMap<Metrics, Map<string, SeriesOf>>();

/**
 * The four RED collectors of one side (`server`, `client`, `subscriber`), and a cache of their label-bound
 * series per key. Request counts and in-flight numbers are plain fields updated per call and handed to
 * prom-client in its collect hook, so a call costs a map lookup, two clock reads and one histogram update.
 */
function red(
  metrics: Metrics,
  side: string,
  labels: readonly string[],
  options: RedOptions,
  what: string,
): SeriesOf {
  const sides = states.get(metrics) ?? new Map<string, SeriesOf>();
  states.set(metrics, sides);
  const stateKey = `${options.prefix ?? 'micro'}_${side}`;
  const existing = sides.get(stateKey);
  if (existing !== undefined) return existing;
  const prefix = `${options.prefix ?? 'micro'}_${side}`;
  const unit = side === 'subscriber' ? 'messages' : 'requests';
  const all: Series[] = [];
  const sync = (): void => {
    for (const series of all) {
      if (series.requests > series.synced) series.requestsMetric.inc(series.requests - series.synced);
      series.synced = series.requests;
      series.inFlightMetric.set(series.inFlight);
    }
  };
  const requests = metrics.counter(`${prefix}_${unit}_total`, {
    help: `${what} completed`,
    labels,
    collect: sync,
  });
  const errors = metrics.counter(`${prefix}_errors_total`, {
    help: `${what} that failed, by MicroError code`,
    labels: [...labels, 'code'],
  });
  const inFlight = metrics.gauge(`${prefix}_${unit}_in_flight`, {
    help: `${what} in progress`,
    labels,
    collect: sync,
  });
  const duration = metrics.histogram(
    `${prefix}_${side === 'subscriber' ? 'message' : 'request'}_duration_seconds`,
    {
      help: `Duration of ${what}, seconds`,
      labels,
      buckets: options.buckets ?? defaultDurationBuckets,
    },
  );
  // Keyed by the label values themselves, one map per level: no key string is built per call.
  const cache = new Map<string, Map<string | undefined, Series>>();
  const seriesOf: SeriesOf = (first, second) => {
    let inner = cache.get(first);
    if (inner === undefined) {
      inner = new Map();
      cache.set(first, inner);
    }
    let series = inner.get(second);
    if (series === undefined) {
      const values: Record<string, string> = { [labels[0] ?? '']: first };
      if (second !== undefined) values[labels[1] ?? ''] = second;
      series = {
        requests: 0,
        synced: 0,
        inFlight: 0,
        requestsMetric: requests.withLabels(values),
        inFlightMetric: inFlight.withLabels(values),
        duration: duration.withLabels(values),
        errors: errors.withLabels(values),
        byCode: new Map(),
      };
      inner.set(second, series);
      all.push(series);
    }
    return series;
  };
  sides.set(stateKey, seriesOf);
  return seriesOf;
}

/** Records the call `work(a, b)` in `series`: in flight, then its duration and, if it failed, its code. */
function measure<A, B, T>(series: Series, work: (a: A, b: B) => Promise<T>, a: A, b: B): Promise<T> {
  series.inFlight++;
  const start = performance.now();
  return whenSettled(work, a, b, (failed, err) => {
    if (failed) {
      const code = toMicroError(err).code;
      let counter = series.byCode.get(code);
      if (counter === undefined) {
        counter = series.errors.withLabels({ code });
        series.byCode.set(code, counter);
      }
      counter.inc();
    }
    series.inFlight--;
    series.requests++;
    series.duration.observe((performance.now() - start) / 1000);
  });
}

/**
 * RED metrics of the calls a client makes, by target service and endpoint: `micro_client_requests_total`,
 * `micro_client_errors_total{code}`, `micro_client_request_duration_seconds`, `micro_client_requests_in_flight`.
 */
export function metricsClient(metrics: Metrics, options: RedOptions = {}): ClientWrapper {
  const seriesOf = red(metrics, 'client', ['service', 'endpoint'], options, 'calls made');
  return (next) => (request, callOptions) =>
    measure(seriesOf(request.service, request.endpoint), next, request, callOptions);
}

/** RED metrics of the calls a server serves, by service and endpoint (`micro_server_*`). */
export function metricsHandler(metrics: Metrics, options: RedOptions = {}): HandlerWrapper {
  const seriesOf = red(metrics, 'server', ['service', 'endpoint'], options, 'calls served');
  return (next) => (request, context) =>
    measure(seriesOf(context.service, context.endpoint), next, request, context);
}

/** RED metrics of the messages subscribers handle, by topic (`micro_subscriber_messages_total`...). */
export function metricsSubscriber(metrics: Metrics, options: RedOptions = {}): SubscriberWrapper {
  const seriesOf = red(metrics, 'subscriber', ['topic'], options, 'messages handled');
  return (next) => (message) => measure(seriesOf(message.topic), next, message, undefined);
}
