export type { LocksOptions } from './create-locks.js';
export { createLocks } from './create-locks.js';
export type {
  CampaignOptions,
  Elected,
  Election,
  ElectionOptions,
  Leader,
  ObserveOptions,
} from './election.js';
export { election } from './election.js';
export { Fence, staleToken } from './fence.js';
export type { Lease, LeaseBackend, LeaseEnd } from './lease.js';
export type { LockFailure } from './lock-errors.js';
export { acquireTimeout, lockExpired, lockFailure, lockLost, lockReleased } from './lock-errors.js';
export { memoryLocks } from './memory.js';
export { maxTtl } from './options.js';
export type { AcquireOptions, Holder, Lock, LockMetadata, Locks, WithLockOptions } from './types.js';
