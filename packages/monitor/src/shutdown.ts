import { invalidArgument, sleep } from '@micro-os/core';
import type { Monitor } from './monitor.js';

export interface GracefulShutdownOptions {
  monitor: Monitor;
  /** What stops the service (`() => service.stop()`), run after the delay. */
  stop: () => Promise<void>;
  /** Milliseconds between readiness going false and `stop`, so load balancers stop sending traffic. @default 5000 */
  delay?: number | undefined;
}

/**
 * The Kubernetes shutdown sequence: readiness goes false at once, the service keeps serving for `delay` ms while
 * endpoints are updated, then `stop()` drains in-flight calls; the monitor is closed last.
 */
export async function gracefulShutdown(options: GracefulShutdownOptions): Promise<void> {
  const delay = options.delay ?? 5000;
  if (!(delay >= 0)) throw invalidArgument(`delay must be >= 0 ms, got ${delay}`);
  options.monitor.beginShutdown();
  if (delay > 0) await sleep(delay);
  try {
    await options.stop();
  } finally {
    await options.monitor.close();
  }
}
