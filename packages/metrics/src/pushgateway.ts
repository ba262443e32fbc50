import { invalidArgument, MicroError } from '@micro-os/core';
import { Pushgateway } from 'prom-client';
import type { Metrics } from './metrics.js';

export interface PushgatewayOptions {
  /** Base URL of the Pushgateway, `http://pushgateway:9091`. */
  url: string;
  /** The `job` the metrics are grouped under. */
  jobName: string;
  /** Further grouping labels (`{ instance: 'batch-1' }`). @default {} */
  groupings?: Record<string, string> | undefined;
  /** Milliseconds a push may take. @default 5000 */
  timeout?: number | undefined;
}

/** Sends the metrics of a short-lived job to a Prometheus Pushgateway. */
export interface MetricsPusher {
  /** Replaces every metric of the group (HTTP PUT). */
  push(): Promise<void>;
  /** Replaces only the metrics pushed with the same names (HTTP POST). */
  pushAdd(): Promise<void>;
  /** Deletes the group from the gateway. */
  delete(): Promise<void>;
}

/** A Pushgateway client over prom-client's; failures are `unavailable` with the cause. */
export function pushgateway(metrics: Metrics, options: PushgatewayOptions): MetricsPusher {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch (cause) {
    throw new MicroError('invalid_argument', `url ${JSON.stringify(options.url)} is not a URL`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw invalidArgument(`url must be http(s), got ${JSON.stringify(options.url)}`);
  if (typeof options.jobName !== 'string' || options.jobName === '')
    throw invalidArgument(`jobName must be a non-empty string, got ${JSON.stringify(options.jobName)}`);
  const timeout = options.timeout ?? 5000;
  const gateway = new Pushgateway(
    options.url,
    { timeout, headers: { 'content-type': metrics.contentType } },
    metrics.registry,
  );
  const params = { jobName: options.jobName, groupings: options.groupings ?? {} };
  const run = async (what: string, send: () => Promise<unknown>): Promise<void> => {
    try {
      await send();
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new MicroError('unavailable', `${what} to Pushgateway ${options.url} failed: ${message}`, {
        cause,
      });
    }
  };
  return {
    push: () => run('push', () => gateway.push(params)),
    pushAdd: () => run('pushAdd', () => gateway.pushAdd(params)),
    delete: () => run('delete', () => gateway.delete(params)),
  };
}
