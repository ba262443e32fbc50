export { activeExemplar } from './exemplar.js';
export type { MetricsServer, MetricsServerOptions } from './http.js';
export { metricsHttpHandler, serveMetrics } from './http.js';
export type {
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  MetricOptions,
  Metrics,
  MetricsOptions,
} from './metrics.js';
export { createMetrics } from './metrics.js';
export type { Labels } from './names.js';
export { checkLabelName, checkMetricName } from './names.js';
export type { MetricsPusher, PushgatewayOptions } from './pushgateway.js';
export { pushgateway } from './pushgateway.js';
export type { RedOptions } from './red.js';
export { defaultDurationBuckets, metricsClient, metricsHandler, metricsSubscriber } from './red.js';
