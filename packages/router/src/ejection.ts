import { invalidArgument } from '@micro-os/core';

export interface EjectionOptions {
  /** Consecutive failures after which a node is ejected. @default 5 */
  consecutiveFailures?: number;
  /** Milliseconds of the first ejection; each further ejection of the same node lasts that much longer. @default 30000 */
  baseTime?: number;
  /** Upper bound of one ejection, ms. @default 300000 */
  maxTime?: number;
  /** Largest share of a service's nodes (0..100) that may be ejected at once. @default 50 */
  maxPercent?: number;
}

export interface EjectionSettings {
  consecutiveFailures: number;
  baseTime: number;
  maxTime: number;
  maxPercent: number;
}

export function ejectionSettings(options: EjectionOptions | false | undefined): EjectionSettings | undefined {
  if (options === false) return undefined;
  const s = {
    consecutiveFailures: options?.consecutiveFailures ?? 5,
    baseTime: options?.baseTime ?? 30_000,
    maxTime: options?.maxTime ?? 300_000,
    maxPercent: options?.maxPercent ?? 50,
  };
  if (!(Number.isInteger(s.consecutiveFailures) && s.consecutiveFailures > 0))
    throw invalidArgument(
      `ejection.consecutiveFailures must be an integer > 0, got ${s.consecutiveFailures}`,
      {
        consecutiveFailures: s.consecutiveFailures,
      },
    );
  if (!(s.baseTime > 0 && Number.isFinite(s.baseTime)))
    throw invalidArgument(`ejection.baseTime must be > 0 ms, got ${s.baseTime}`, { baseTime: s.baseTime });
  if (!(s.maxTime >= s.baseTime && Number.isFinite(s.maxTime)))
    throw invalidArgument(`ejection.maxTime must be >= baseTime (${s.baseTime} ms), got ${s.maxTime}`, {
      maxTime: s.maxTime,
    });
  if (!(s.maxPercent > 0 && s.maxPercent <= 100))
    throw invalidArgument(`ejection.maxPercent must be > 0 and <= 100, got ${s.maxPercent}`, {
      maxPercent: s.maxPercent,
    });
  return s;
}

/**
 * Outlier ejection: a node that fails `consecutiveFailures` times in a row sits out for
 * `baseTime x times ejected` (capped at `maxTime`), unless too many of its service's nodes are out already.
 */
export class Ejection {
  readonly #s: EjectionSettings;
  #consecutive = 0;
  #times = 0;
  #until = 0;

  constructor(settings: EjectionSettings) {
    this.#s = settings;
  }

  ejected(now: number): boolean {
    return this.#until > now;
  }

  get until(): number {
    return this.#until;
  }

  /** Counts the outcome; returns true when the node has earned an ejection (the caller checks the cap). */
  record(failure: boolean): boolean {
    if (!failure) {
      this.#consecutive = 0;
      return false;
    }
    this.#consecutive++;
    return this.#consecutive >= this.#s.consecutiveFailures;
  }

  eject(now: number): void {
    this.#times++;
    this.#consecutive = 0;
    this.#until = now + Math.min(this.#s.baseTime * this.#times, this.#s.maxTime);
  }
}
