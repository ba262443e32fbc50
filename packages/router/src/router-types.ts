import { isMicroError, type Node, type Registry, type Selector } from '@micro-os/core';
import type { BreakerOptions, BreakerState } from './breaker.js';
import type { EjectionOptions } from './ejection.js';
import type { FleetOptions } from './fleet.js';
import type { Split } from './split.js';
import type { StrategyName } from './strategies.js';

export interface RouterOptions {
  registry: Registry;
  /** How a node is picked among the healthy candidates. @default 'p2c-ewma' */
  strategy?: StrategyName;
  /** Per-node circuit breaker; `false` turns it off. @default { errorRate: 0.5, minCalls: 10, coolDown: 5000, window: 10000 } */
  breaker?: BreakerOptions | false;
  /** Outlier ejection; `false` turns it off. @default { consecutiveFailures: 5, baseTime: 30000, maxTime: 300000, maxPercent: 50 } */
  ejection?: EjectionOptions | false;
  /** Labels every call of this router must match (call metadata `x-micro-label-*` adds more). @default {} */
  labels?: Record<string, string>;
  /** Weighted splits per service name, for A/B tests and canaries. @default {} */
  splits?: Record<string, Split>;
  /** Share stats with the other routers of the fleet over a broker. @default not shared */
  fleet?: FleetOptions;
  /** Weight of a new latency sample in the EWMA, 0 < alpha <= 1. @default 0.3 */
  ewmaAlpha?: number;
  /** Milliseconds over which an idle node's latency EWMA decays by a factor e, so slow nodes get retried. @default 10000 */
  latencyDecay?: number;
  /** Milliseconds a registry lookup is trusted without a watch event. @default 60000 */
  cacheTtl?: number;
  /** Which call errors count against a node. @default unavailable, resource_exhausted, deadline_exceeded, internal and non-MicroErrors */
  isFailure?: (error: unknown) => boolean;
  /** Called with background errors (fleet publication). @default console.error */
  onError?: (error: unknown) => void;
}

/** What `stats()` reports about one node. */
export interface NodeStats {
  service: string;
  node: string;
  address: string;
  calls: number;
  failures: number;
  outstanding: number;
  /** Local latency EWMA, ms (0 before the first sample). */
  latency: number;
  breaker: BreakerState | 'disabled';
  /** Milliseconds the node stays ejected; absent when it is not ejected. */
  ejectedFor?: number;
  /** The fleet-wide view this router routes on. */
  fleet: { latency: number; outstanding: number; sources: number };
}

export interface RouterStats {
  /** This router's id in fleet reports. */
  source: string;
  nodes: NodeStats[];
}

/** A core Selector that load-balances, breaks circuits, ejects outliers and routes by label and weight. */
export interface Router extends Selector {
  /** This router's id in fleet reports. */
  readonly id: string;
  /** Records the outcome of a call made without this router's `Next` (duration in ms, or undefined when unknown). */
  record(request: { service: string }, node: Node, duration: number | undefined, error?: unknown): void;
  stats(): RouterStats;
  [Symbol.asyncDispose](): Promise<void>;
}

const failureCodes = new Set(['unavailable', 'resource_exhausted', 'deadline_exceeded', 'internal']);

/** The default failure rule: transport, overload, timeout and internal errors count; caller aborts and application errors do not. */
export function isNodeFailure(error: unknown): boolean {
  if (error === undefined) return false;
  if (isMicroError(error)) return failureCodes.has(error.code);
  return true;
}
