import { type ErrorCode, invalidArgument, MicroError, toMicroError } from '@micro-os/core';

/** One health check, run every `interval` ms. */
export interface HealthCheck {
  /** Unique name: `postgres`, `redis`, `disk`. */
  id: string;
  /** @default '' */
  description?: string | undefined;
  /** Returns or resolves when healthy (an object returned is kept as details), throws or rejects when not; should honour the signal. */
  check: (signal: AbortSignal) => unknown;
  /** Milliseconds between runs. @default 10000 */
  interval?: number | undefined;
  /** Milliseconds a run may take before it counts as failed (`deadline_exceeded`). @default 2000 */
  timeout?: number | undefined;
  /** A failing critical check fails health and readiness; a failing non-critical one only degrades health. @default true */
  critical?: boolean | undefined;
}

/** `pass`, `warn` (degraded), `fail`, as in the IETF health check response format; `pending` before the first run. */
export type CheckStatus = 'pass' | 'fail' | 'pending';
export type HealthStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  description: string;
  critical: boolean;
  status: CheckStatus;
  /** The failure, when failing. */
  error?: string;
  code?: ErrorCode;
  /** What the check returned on its last success. */
  details?: Record<string, unknown>;
  /** Milliseconds the last run took. */
  durationMs?: number;
  /** ISO time of the last run's end. */
  checkedAt?: string;
  consecutiveFailures: number;
}

export interface NormalizedCheck {
  id: string;
  description: string;
  check: HealthCheck['check'];
  interval: number;
  timeout: number;
  critical: boolean;
}

export function normalizeCheck(check: HealthCheck): NormalizedCheck {
  if (typeof check !== 'object' || check === null) throw invalidArgument('a health check must be an object');
  if (typeof check.id !== 'string' || check.id === '')
    throw invalidArgument(`check id must be a non-empty string, got ${JSON.stringify(check.id)}`);
  if (typeof check.check !== 'function') throw invalidArgument(`check ${check.id} needs a check function`);
  const interval = check.interval ?? 10_000;
  const timeout = check.timeout ?? 2000;
  if (!(interval > 0)) throw invalidArgument(`interval of check ${check.id} must be > 0 ms, got ${interval}`);
  if (!(timeout > 0)) throw invalidArgument(`timeout of check ${check.id} must be > 0 ms, got ${timeout}`);
  return {
    id: check.id,
    description: check.description ?? '',
    check: check.check,
    interval,
    timeout,
    critical: check.critical ?? true,
  };
}

/** Runs a check once under its timeout; never throws. */
export async function runCheck(check: NormalizedCheck, previous: CheckResult): Promise<CheckResult> {
  const start = performance.now();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new MicroError(
        'deadline_exceeded',
        `check ${check.id} took longer than ${check.timeout} ms`,
      );
      controller.abort(error);
      reject(error);
    }, check.timeout);
    timer.unref();
  });
  const base = { id: check.id, description: check.description, critical: check.critical };
  try {
    const value = await Promise.race([(async () => check.check(controller.signal))(), timedOut]);
    const details =
      typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
    return {
      ...base,
      status: 'pass',
      ...(details ? { details } : {}),
      durationMs: performance.now() - start,
      checkedAt: new Date().toISOString(),
      consecutiveFailures: 0,
    };
  } catch (err) {
    const error = toMicroError(err);
    return {
      ...base,
      status: 'fail',
      error: error.message,
      code: error.code,
      durationMs: performance.now() - start,
      checkedAt: new Date().toISOString(),
      consecutiveFailures: previous.consecutiveFailures + 1,
    };
  } finally {
    clearTimeout(timer);
  }
}
