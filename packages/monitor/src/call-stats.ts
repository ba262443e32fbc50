import {
  type ClientWrapper,
  type ErrorCode,
  type HandlerWrapper,
  toMicroError,
  whenSettled,
} from '@micro-os/core';

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
  readonly #entries = new Map<string, Map<string, Entry>>();
  #inFlight = 0;

  /** Calls in progress on every endpoint. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Counts the call `work(a, b)` on the endpoint's entry: in flight, then done, its duration, any failure. */
  measure<A, B, T>(
    service: string,
    endpoint: string,
    work: (a: A, b: B) => Promise<T>,
    a: A,
    b: B,
  ): Promise<T> {
    // Keyed by the names themselves, one map per level: no key string is built per call.
    let byEndpoint = this.#entries.get(service);
    if (byEndpoint === undefined) {
      byEndpoint = new Map();
      this.#entries.set(service, byEndpoint);
    }
    let entry = byEndpoint.get(endpoint);
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
      byEndpoint.set(endpoint, entry);
    }
    const counted = entry;
    counted.inFlight++;
    this.#inFlight++;
    const start = performance.now();
    return whenSettled(work, a, b, (failed, err) => {
      if (failed) {
        const code = toMicroError(err).code;
        counted.errors++;
        counted.errorsByCode[code] = (counted.errorsByCode[code] ?? 0) + 1;
      }
      const took = performance.now() - start;
      counted.inFlight--;
      this.#inFlight--;
      counted.requests++;
      counted.totalMs += took;
      if (took > counted.maxMs) counted.maxMs = took;
    });
  }

  snapshot(): EndpointStats[] {
    return [...this.#entries.values()]
      .flatMap((byEndpoint) => [...byEndpoint.values()])
      .map((e) => ({
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
    monitor.served.measure(context.service, context.endpoint, next, request, context);
}

/** Counts calls made per target service and endpoint. */
export function monitorClient(monitor: CallStatsHolder): ClientWrapper {
  return (next) => (request, options) =>
    monitor.made.measure(request.service, request.endpoint, next, request, options);
}
