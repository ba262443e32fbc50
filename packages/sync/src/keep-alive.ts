import type { Lock } from './types.js';

/** Extends `lock` every `interval` ms until stopped or the lock's signal aborts; retries sooner after a failure. */
export function keepAlive(lock: Lock, ttl: number, interval: number): { stop: () => Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = false;
  const schedule = (ms: number): void => {
    if (stopped || lock.signal.aborted) return;
    timer = setTimeout(tick, ms);
    timer.unref();
  };
  const tick = (): void => {
    inFlight = lock.extend(ttl).then(
      () => schedule(interval),
      // A lost or expired lease aborts the signal, which ends the loop; anything else (a server that does not
      // answer) is retried until the lease's own validity runs out.
      () => schedule(Math.min(interval, 100)),
    );
  };
  schedule(interval);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
