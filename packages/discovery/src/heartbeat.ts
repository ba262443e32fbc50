import { invalidArgument, isMicroError, type Registry, type Service, validateService } from '@micro-os/core';

export interface HeartbeatOptions {
  /** Milliseconds the registration lives without a renewal. */
  ttl: number;
  /** Milliseconds between renewals; must be below `ttl`. @default ttl / 3 */
  interval?: number;
  /** Deregister the nodes when the heartbeat stops. @default true */
  deregisterOnStop?: boolean;
  /** Called with every failed renewal (the heartbeat keeps trying). */
  onError?: (error: unknown) => void;
}

/** A running heartbeat; `close()` stops it (and deregisters, unless told not to). */
export interface Heartbeat {
  /** Renewals that succeeded so far. */
  readonly beats: number;
  /** Resolves after the first registration; rejects if it was refused (e.g. `invalid_argument`). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Registers `service` with a TTL and renews it every `interval`, so that a node which stops (crash, pause,
 * partition) disappears for every watcher within `ttl` plus one check, and a restarted node with the same
 * ids comes back as the same nodes, not duplicates.
 */
export function heartbeat(registry: Registry, service: Service, options: HeartbeatOptions): Heartbeat {
  validateService(service);
  const { ttl } = options;
  if (!(Number.isFinite(ttl) && ttl > 0)) throw invalidArgument(`heartbeat ttl must be > 0 ms, got ${ttl}`);
  const interval = options.interval ?? ttl / 3;
  if (!(Number.isFinite(interval) && interval > 0 && interval < ttl)) {
    throw invalidArgument(`heartbeat interval must be > 0 and below the ttl of ${ttl} ms, got ${interval}`, {
      interval,
      ttl,
    });
  }
  let beats = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const beat = async (): Promise<void> => {
    await registry.register(service, { ttl });
    beats += 1;
  };
  let started = Date.now();
  const schedule = (): void => {
    if (stopped) return;
    // Renewals start one interval apart however long each one takes, so a slow backend does not push the
    // next renewal back into the ttl.
    timer = setTimeout(
      () => {
        started = Date.now();
        inFlight = beat().catch((err: unknown) => {
          options.onError?.(err);
        });
        void inFlight.then(schedule);
      },
      Math.max(0, started + interval - Date.now()),
    );
    timer.unref();
  };
  const ready = beat();
  inFlight = ready.then(schedule, (err: unknown) => {
    if (!isMicroError(err, 'invalid_argument')) {
      options.onError?.(err);
      schedule();
    }
  });

  const handle: Heartbeat = {
    get beats() {
      return beats;
    },
    ready,
    async close() {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      await inFlight;
      if (options.deregisterOnStop ?? true) await registry.deregister(service).catch(() => undefined);
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
  return handle;
}
