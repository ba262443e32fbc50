import { MicroError } from '@micro-os/core';
import type { HealthCheck } from './check.js';

/** A health check whose outcome a test sets: `pass()`, `fail(message)`, `hang()` (never answers). */
export interface ManualCheck extends HealthCheck {
  pass(): void;
  fail(message?: string): void;
  hang(): void;
  /** Runs so far. */
  readonly runs: number;
}

export function manualCheck(options: Omit<HealthCheck, 'check'>): ManualCheck {
  let outcome: 'pass' | 'fail' | 'hang' = 'pass';
  let message = 'failing';
  let runs = 0;
  return {
    ...options,
    check(signal) {
      runs++;
      if (outcome === 'fail') throw new MicroError('unavailable', message);
      if (outcome === 'hang')
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      return undefined;
    },
    pass() {
      outcome = 'pass';
    },
    fail(text = 'failing') {
      outcome = 'fail';
      message = text;
    },
    hang() {
      outcome = 'hang';
    },
    get runs() {
      return runs;
    },
  };
}
