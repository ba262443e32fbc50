export { memoryRegistry } from '@micro-os/core';
export type { CachedRegistry, CachedRegistryOptions, CacheInfo } from './cached-registry.js';
export { cachedRegistry } from './cached-registry.js';
export type { Heartbeat, HeartbeatOptions } from './heartbeat.js';
export { heartbeat } from './heartbeat.js';
export type { RegistrationLimits } from './record.js';
export { checkRegistration, defaultMaxRecordBytes } from './record.js';
