/** Milliseconds to wait before retry number `attempt` (1-based). */
export type Backoff = (attempt: number) => number;

export interface ExponentialBackoffOptions {
  /** First delay in ms. @default 20 */
  base?: number;
  /** Largest delay in ms. @default 1000 */
  max?: number;
}

/** Exponential backoff with full jitter: a random delay in [0, min(max, base * 2^(attempt-1))]. */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  const base = options.base ?? 20;
  const max = options.max ?? 1000;
  return (attempt) => Math.random() * Math.min(max, base * 2 ** (attempt - 1));
}
