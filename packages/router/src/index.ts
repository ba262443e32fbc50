export type { BreakerOptions, BreakerState } from './breaker.js';
export type { EjectionOptions } from './ejection.js';
export type { FleetOptions, FleetReport } from './fleet.js';
export { labelFilter, labelPrefix, labelsOf, routerClient } from './labels.js';
export { routerSelector } from './router.js';
export type { NodeStats, Router, RouterOptions, RouterStats } from './router-types.js';
export { isNodeFailure } from './router-types.js';
export type { Split } from './split.js';
export type { StrategyName } from './strategies.js';
