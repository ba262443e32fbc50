export type { BreakerOptions, BreakerState } from './breaker.js';
export type { EjectionOptions } from './ejection.js';
export type { FleetOptions, FleetReport } from './fleet.js';
export { labelFilter, labelPrefix, labelsOf, routerClient } from './labels.js';
export type { NodeStats, Router, RouterOptions, RouterStats } from './router.js';
export { isNodeFailure, routerSelector } from './router.js';
export type { Split } from './split.js';
export type { StrategyName } from './strategies.js';
