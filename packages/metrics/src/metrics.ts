import { invalidArgument, MicroError } from '@micro-os/core';
import {
  collectDefaultMetrics,
  Counter as PromCounter,
  Gauge as PromGauge,
  Registry,
  type RegistryContentType,
} from 'prom-client';
import { activeExemplar } from './exemplar.js';
import { HistogramCollector } from './histogram.js';
import { checkLabelName, checkLabels, checkMetricName, type Labels, seriesKey } from './names.js';

export interface Counter {
  /** Adds `value` (>= 0). @default 1 */
  inc(value?: number): void;
  /** The same counter with these labels added (each must be declared). */
  withLabels(labels: Labels): Counter;
}

export interface Gauge {
  set(value: number): void;
  inc(value?: number): void;
  dec(value?: number): void;
  withLabels(labels: Labels): Gauge;
}

export interface Histogram {
  /** Records one value; when exemplars are on, the active span's trace_id/span_id go with it. */
  observe(value: number): void;
  /** Starts a timer; calling the result observes the seconds elapsed and returns them. */
  startTimer(): () => number;
  withLabels(labels: Labels): Histogram;
}

export interface MetricOptions {
  /** HELP text. @default the name */
  help?: string | undefined;
  /** Label names the metric may carry; `withLabels` rejects any other. @default [] */
  labels?: readonly string[] | undefined;
  /** Called before every exposition, to bring the metric up to date from values kept elsewhere. @default none */
  collect?: (() => void) | undefined;
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds of the buckets. @default prom-client's: 0.005 to 10 (seconds) */
  buckets?: readonly number[] | undefined;
}

export interface MetricsOptions {
  /** A registry to register in (shared with other prom-client code). @default a new registry of this instance */
  registry?: Registry<RegistryContentType> | undefined;
  /** Labels added to every series of the registry (`{ service: 'orders' }`). @default {} */
  defaultLabels?: Record<string, string> | undefined;
  /** Collect prom-client's default process metrics (CPU, memory, event loop, GC, handles). @default true */
  processMetrics?: boolean | undefined;
  /**
   * Histograms carry the active span's `trace_id`/`span_id` as exemplars. Switches the registry to the
   * OpenMetrics format, the only one with exemplars. @default false
   */
  exemplars?: boolean | undefined;
  /** Series (label sets) one metric may have; label sets past it are dropped with a warning. @default 1000 */
  maxSeries?: number | undefined;
  /** Longest label value accepted, in characters. @default 1024 */
  maxLabelValueLength?: number | undefined;
  /** Where the cardinality warning goes. @default process.emitWarning */
  onWarning?: ((message: string) => void) | undefined;
}

/** Counters, gauges and histograms in one prom-client registry, usually one per service. */
export interface Metrics {
  /** The prom-client registry (escape hatch: register your own collectors). */
  readonly registry: Registry<RegistryContentType>;
  /** Content type of `exposition()`: Prometheus text 0.0.4, or OpenMetrics 1.0.0 with exemplars. */
  readonly contentType: string;
  /** The counter named `name`, created on first use with `options`. */
  counter(name: string, options?: MetricOptions): Counter;
  gauge(name: string, options?: MetricOptions): Gauge;
  histogram(name: string, options?: HistogramOptions): Histogram;
  /** Every metric in the registry's text format. */
  exposition(): Promise<string>;
  /** Removes every metric from the registry. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

type Kind = 'counter' | 'gauge' | 'histogram';

interface Family {
  kind: Kind;
  name: string;
  declared: ReadonlySet<string>;
  series: Set<string>;
  warned: boolean;
  counter?: PromCounter<string>;
  gauge?: PromGauge<string>;
  histogram?: HistogramCollector;
}

/** prom-client's default buckets, in seconds. */
const defaultBuckets: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const checkAmount = (metric: string, value: number, nonNegative: boolean): number => {
  if (!Number.isFinite(value) || (nonNegative && value < 0))
    throw invalidArgument(
      `value for ${metric} must be a finite number${nonNegative ? ' >= 0' : ''}, got ${String(value)}`,
    );
  return value;
};

/** Builds a metrics instance on a prom-client registry of its own (or the one given). */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const maxSeries = options.maxSeries ?? 1000;
  const maxLength = options.maxLabelValueLength ?? 1024;
  const exemplars = options.exemplars ?? false;
  const warn =
    options.onWarning ??
    ((message: string) => process.emitWarning(message, { code: 'MICRO_METRICS_CARDINALITY' }));
  if (!Number.isInteger(maxSeries) || maxSeries < 1)
    throw invalidArgument(`maxSeries must be an integer >= 1, got ${maxSeries}`);
  if (!Number.isInteger(maxLength) || maxLength < 1)
    throw invalidArgument(`maxLabelValueLength must be an integer >= 1, got ${maxLength}`);
  const registry: Registry<RegistryContentType> = options.registry ?? new Registry();
  if (exemplars) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  /** prom-client's collector options take either registry flavour, not the union. */
  const registers = [registry as Registry];
  if (options.defaultLabels !== undefined) {
    for (const name of Object.keys(options.defaultLabels)) checkLabelName('(default labels)', name);
    registry.setDefaultLabels(options.defaultLabels);
  }
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry as Registry });
  const families = new Map<string, Family>();

  const family = (kind: Kind, name: string, metricOptions: HistogramOptions = {}): Family => {
    const existing = families.get(name);
    if (existing !== undefined) {
      const labels = metricOptions.labels;
      const same =
        labels === undefined ||
        (labels.length === existing.declared.size && labels.every((l) => existing.declared.has(l)));
      if (existing.kind !== kind || !same)
        throw new MicroError(
          'already_exists',
          `metric ${name} already exists as a ${existing.kind} with labels [${[...existing.declared].join(', ')}]`,
        );
      return existing;
    }
    checkMetricName(name);
    if (registry.getSingleMetric(name) !== undefined)
      throw new MicroError('already_exists', `metric ${name} is already registered in the registry`);
    const labelNames = (metricOptions.labels ?? []).map((l) => checkLabelName(name, l));
    const collect = metricOptions.collect;
    const config = {
      name,
      help: metricOptions.help ?? name,
      labelNames,
      registers,
      ...(collect === undefined ? {} : { collect: () => collect() }),
    };
    const created: Family = { kind, name, declared: new Set(labelNames), series: new Set(), warned: false };
    if (kind === 'counter') created.counter = new PromCounter(config);
    else if (kind === 'gauge') created.gauge = new PromGauge(config);
    else {
      const buckets = metricOptions.buckets === undefined ? defaultBuckets : [...metricOptions.buckets];
      if (buckets.length === 0 || buckets.some((b) => !Number.isFinite(b)))
        throw invalidArgument(`buckets of ${name} must be finite numbers, got [${buckets.join(', ')}]`);
      created.histogram = new HistogramCollector(
        name,
        config.help,
        [...new Set(buckets)].sort((a, b) => a - b),
        exemplars,
        collect,
        registry as Registry,
      );
    }
    families.set(name, created);
    return created;
  };

  /** Whether the label set may become a series; past the cap it is dropped, with one warning per metric. */
  const admit = (f: Family, labels: Record<string, string>): boolean => {
    const key = seriesKey(labels);
    if (key === '' || f.series.has(key)) return true;
    if (f.series.size >= maxSeries) {
      if (!f.warned) {
        f.warned = true;
        warn(
          `metric ${f.name} reached its limit of ${maxSeries} series; new label sets such as ` +
            `${JSON.stringify(labels)} are dropped. Remove high-cardinality labels (ids, URLs) or raise maxSeries.`,
        );
      }
      return false;
    }
    f.series.add(key);
    return true;
  };

  const merge = (f: Family, base: Record<string, string>, more: Labels): Record<string, string> => ({
    ...base,
    ...checkLabels(f.name, f.declared, more, maxLength),
  });

  const counterOf = (f: Family, labels: Record<string, string>): Counter => {
    const withLabels = (more: Labels): Counter => counterOf(f, merge(f, labels, more));
    if (!admit(f, labels)) return { inc: () => undefined, withLabels };
    const c = f.counter as PromCounter<string>;
    return { inc: (value = 1) => c.inc(labels, checkAmount(f.name, value, true)), withLabels };
  };

  const gaugeOf = (f: Family, labels: Record<string, string>): Gauge => {
    const withLabels = (more: Labels): Gauge => gaugeOf(f, merge(f, labels, more));
    if (!admit(f, labels))
      return { set: () => undefined, inc: () => undefined, dec: () => undefined, withLabels };
    const g = f.gauge as PromGauge<string>;
    return {
      set: (value) => g.set(labels, checkAmount(f.name, value, false)),
      inc: (value = 1) => g.inc(labels, checkAmount(f.name, value, false)),
      dec: (value = 1) => g.dec(labels, checkAmount(f.name, value, false)),
      withLabels,
    };
  };

  const histogramOf = (f: Family, labels: Record<string, string>): Histogram => {
    const withLabels = (more: Labels): Histogram => histogramOf(f, merge(f, labels, more));
    if (!admit(f, labels)) return { observe: () => undefined, startTimer: () => () => 0, withLabels };
    const collector = f.histogram as HistogramCollector;
    // A label set is exposed once observed, as with prom-client; a histogram without labels from the start.
    let series = f.declared.size === 0 ? collector.series('', labels) : undefined;
    const observe = (value: number): void => {
      series ??= collector.series(seriesKey(labels), labels);
      series.observe(checkAmount(f.name, value, false), exemplars ? activeExemplar() : undefined);
    };
    return {
      observe,
      startTimer() {
        const start = performance.now();
        return () => {
          const seconds = (performance.now() - start) / 1000;
          observe(seconds);
          return seconds;
        };
      },
      withLabels,
    };
  };

  return {
    registry,
    get contentType() {
      return registry.contentType;
    },
    counter: (name, metricOptions) => counterOf(family('counter', name, metricOptions), {}),
    gauge: (name, metricOptions) => gaugeOf(family('gauge', name, metricOptions), {}),
    histogram: (name, metricOptions) => histogramOf(family('histogram', name, metricOptions), {}),
    exposition: () => registry.metrics(),
    async close() {
      registry.clear();
      families.clear();
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
