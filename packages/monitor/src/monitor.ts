import { type Broker, checkTopic, MicroError } from '@micro-os/core';
import { CallStats, type CallStatsHolder, type EndpointStats } from './call-stats.js';
import {
  type CheckResult,
  type HealthCheck,
  type HealthStatus,
  type NormalizedCheck,
  normalizeCheck,
  runCheck,
} from './check.js';
import { type ProcessStats, processSampler } from './process-stats.js';

export interface MonitorOptions {
  /** Service name reported in health and stats. @default none */
  service?: string | undefined;
  /** Broker on which status and stats are published every `publishInterval`. @default none (no publication) */
  broker?: Broker | undefined;
  /** @default 'micro.monitor.status' */
  statusTopic?: string | undefined;
  /** @default 'micro.monitor.stats' */
  statsTopic?: string | undefined;
  /** Milliseconds between publications. @default 10000 */
  publishInterval?: number | undefined;
  /** Called when a publication fails. @default console.error */
  onError?: ((error: unknown) => void) | undefined;
}

export interface HealthReport {
  /** `fail` if a critical check fails, `warn` if only non-critical ones do, else `pass`. */
  status: HealthStatus;
  service?: string;
  ready: boolean;
  shuttingDown: boolean;
  /** Seconds since the process started. */
  uptime: number;
  checks: CheckResult[];
}

export interface Readiness {
  ready: boolean;
  /** Why not: `shutting down`, `check db failing: ...`, `check db not run yet`. */
  reasons: string[];
}

export interface MonitorStats {
  service?: string;
  process: ProcessStats;
  /** Calls in progress, served and made (counted by monitorHandler and monitorClient). */
  inFlight: { served: number; made: number };
  served: EndpointStats[];
  made: EndpointStats[];
}

export interface Monitor extends CallStatsHolder {
  /** Adds a check and runs it at once, then every `interval`. `already_exists` if the id is taken. */
  register(check: HealthCheck): void;
  deregister(id: string): void;
  /** Runs every check now and returns the report. */
  checkNow(): Promise<HealthReport>;
  /** The report from the last result of each check. */
  health(): HealthReport;
  /** Ready to take traffic: not shutting down and every critical check passing. */
  readiness(): Readiness;
  /** Liveness: the process answers. It never depends on checks, so a dependency outage does not restart pods. */
  live(): boolean;
  /** Turns readiness off (first step of a graceful shutdown); health and liveness are unchanged. */
  beginShutdown(): void;
  readonly shuttingDown: boolean;
  /** Process stats since the previous call, and call stats since the start. */
  stats(): MonitorStats;
  /** Publishes status and stats on the broker now. */
  publish(): Promise<void>;
  /** Stops check and publication timers. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Registered {
  check: NormalizedCheck;
  result: CheckResult;
  running: Promise<CheckResult> | undefined;
  timer: NodeJS.Timeout;
}

/** Health checks, readiness, process and call stats for one service. */
export function createMonitor(options: MonitorOptions = {}): Monitor {
  const statusTopic = checkTopic(options.statusTopic ?? 'micro.monitor.status');
  const statsTopic = checkTopic(options.statsTopic ?? 'micro.monitor.stats');
  const publishInterval = options.publishInterval ?? 10_000;
  if (!(publishInterval > 0))
    throw new MicroError('invalid_argument', `publishInterval must be > 0 ms, got ${publishInterval}`);
  const onError = options.onError ?? ((error: unknown) => console.error('micro-os monitor:', error));
  const service = options.service === undefined ? {} : { service: options.service };
  const checks = new Map<string, Registered>();
  const sampler = processSampler();
  const served = new CallStats();
  const made = new CallStats();
  let shuttingDown = false;
  let closed = false;

  const run = (entry: Registered): Promise<CheckResult> => {
    entry.running ??= runCheck(entry.check, entry.result).then((result) => {
      entry.running = undefined;
      if (checks.get(entry.check.id) === entry) entry.result = result;
      return result;
    });
    return entry.running;
  };

  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (shuttingDown) reasons.push('shutting down');
    for (const { result } of checks.values()) {
      if (!result.critical) continue;
      if (result.status === 'pending') reasons.push(`check ${result.id} not run yet`);
      else if (result.status === 'fail') reasons.push(`check ${result.id} failing: ${result.error}`);
    }
    return { ready: reasons.length === 0, reasons };
  };

  const health = (): HealthReport => {
    const results = [...checks.values()].map((c) => c.result);
    const failing = results.filter((r) => r.status === 'fail');
    const status: HealthStatus = failing.some((r) => r.critical)
      ? 'fail'
      : failing.length > 0
        ? 'warn'
        : 'pass';
    return {
      status,
      ...service,
      ready: readiness().ready,
      shuttingDown,
      uptime: process.uptime(),
      checks: results,
    };
  };

  const stats = (): MonitorStats => ({
    ...service,
    process: sampler.sample(),
    inFlight: { served: served.inFlight, made: made.inFlight },
    served: served.snapshot(),
    made: made.snapshot(),
  });

  const encoder = new TextEncoder();
  const publish = async (): Promise<void> => {
    const broker = options.broker;
    if (broker === undefined) return;
    const send = (topic: string, value: unknown) =>
      broker.publish(topic, {
        contentType: 'application/json',
        metadata: {},
        body: encoder.encode(JSON.stringify(value)),
      });
    await Promise.all([send(statusTopic, health()), send(statsTopic, stats())]);
  };
  const publisher =
    options.broker === undefined
      ? undefined
      : setInterval(() => {
          publish().catch(onError);
        }, publishInterval);
  publisher?.unref();

  const monitor: Monitor = {
    served,
    made,
    register(check) {
      if (closed) throw new MicroError('failed_precondition', 'the monitor is closed');
      const normalized = normalizeCheck(check);
      if (checks.has(normalized.id))
        throw new MicroError('already_exists', `a check with id ${normalized.id} is already registered`);
      const entry: Registered = {
        check: normalized,
        result: {
          id: normalized.id,
          description: normalized.description,
          critical: normalized.critical,
          status: 'pending',
          consecutiveFailures: 0,
        },
        running: undefined,
        timer: setInterval(() => {
          void run(entry);
        }, normalized.interval),
      };
      entry.timer.unref();
      checks.set(normalized.id, entry);
      void run(entry);
    },
    deregister(id) {
      const entry = checks.get(id);
      if (entry === undefined) return;
      clearInterval(entry.timer);
      checks.delete(id);
    },
    async checkNow() {
      await Promise.all([...checks.values()].map(run));
      return health();
    },
    health,
    readiness,
    live: () => true,
    beginShutdown() {
      shuttingDown = true;
    },
    get shuttingDown() {
      return shuttingDown;
    },
    stats,
    publish,
    async close() {
      if (closed) return;
      closed = true;
      for (const entry of checks.values()) clearInterval(entry.timer);
      if (publisher !== undefined) clearInterval(publisher);
      sampler.close();
    },
    async [Symbol.asyncDispose]() {
      await monitor.close();
    },
  };
  return monitor;
}
