import { type ClientWrapper, type ErrorCode, type HandlerWrapper, toMicroError } from '@micro-os/core';

/** Counters of one endpoint. */
export interface EndpointStats {
  service: string;
  endpoint: string;
  requests: number;
  errors: number;
  errorsByCode: Partial<Record<ErrorCode, number>>;
  inFlight: number;
  /** Mean and worst duration of completed calls, milliseconds. */
  meanMs: number;
  maxMs: number;
}

interface Entry {
  service: string;
  endpoint: string;
  requests: number;
  errors: number;
  errorsByCode: Partial<Record<ErrorCode, number>>;
  inFlight: number;
  totalMs: number;
  maxMs: number;
}

/** Per-endpoint call counters of one side (served or made). */
export class CallStats {
  readonly #entries = new Map<string, Entry>();
  #inFlight = 0;

  /** Calls in progress on every endpoint. */
  get inFlight(): number {
    return this.#inFlight;
  }

  async measure<T>(service: string, endpoint: string, work: () => Promise<T>): Promise<T> {
    const key = `${service}\u0000${endpoint}`;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = {
        service,
        endpoint,
        requests: 0,
        errors: 0,
        errorsByCode: {},
        inFlight: 0,
        totalMs: 0,
        maxMs: 0,
      };
      this.#entries.set(key, entry);
    }
    entry.inFlight++;
    this.#inFlight++;
    const start = performance.now();
    try {
      return await work();
    } catch (err) {
      const code = toMicroError(err).code;
      entry.errors++;
      entry.errorsByCode[code] = (entry.errorsByCode[code] ?? 0) + 1;
      throw err;
    } finally {
      const took = performance.now() - start;
      entry.inFlight--;
      this.#inFlight--;
      entry.requests++;
      entry.totalMs += took;
      if (took > entry.maxMs) entry.maxMs = took;
    }
  }

  snapshot(): EndpointStats[] {
    return [...this.#entries.values()].map((e) => ({
      service: e.service,
      endpoint: e.endpoint,
      requests: e.requests,
      errors: e.errors,
      errorsByCode: { ...e.errorsByCode },
      inFlight: e.inFlight,
      meanMs: e.requests === 0 ? 0 : e.totalMs / e.requests,
      maxMs: e.maxMs,
    }));
  }
}

/** Something holding the served and made call stats (a Monitor). */
export interface CallStatsHolder {
  readonly served: CallStats;
  readonly made: CallStats;
}

/** Counts calls served per endpoint: requests, errors by code, in flight, mean and max duration. */
export function monitorHandler(monitor: CallStatsHolder): HandlerWrapper {
  return (next) => (request, context) =>
    monitor.served.measure(context.service, context.endpoint, () => next(request, context));
}

/** Counts calls made per target service and endpoint. */
export function monitorClient(monitor: CallStatsHolder): ClientWrapper {
  return (next) => (request, options) =>
    monitor.made.measure(request.service, request.endpoint, () => next(request, options));
}
