import { type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface ProcessStats {
  /** Seconds since the process started. */
  uptime: number;
  /** Percent of one core used since the previous sample (user + system; > 100 with worker threads). */
  cpuPercent: number;
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  /** Event-loop delay since the previous sample, milliseconds. */
  eventLoopDelay: { mean: number; p50: number; p99: number; max: number };
  /** Fraction of time the event loop was busy since the previous sample, 0..1. */
  eventLoopUtilization: number;
}

const ms = (ns: number): number => (Number.isFinite(ns) ? ns / 1e6 : 0);

/** Samples process statistics; each `sample()` covers the time since the previous one. */
export function processSampler(): { sample(): ProcessStats; close(): void } {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let cpu = process.cpuUsage();
  let at = performance.now();
  let elu: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    sample() {
      const now = performance.now();
      const cpuDelta = process.cpuUsage(cpu);
      const elapsedMicros = Math.max(1, (now - at) * 1000);
      const eluDelta = performance.eventLoopUtilization(elu);
      const memory = process.memoryUsage();
      const stats: ProcessStats = {
        uptime: process.uptime(),
        cpuPercent: ((cpuDelta.user + cpuDelta.system) / elapsedMicros) * 100,
        memory: {
          rss: memory.rss,
          heapUsed: memory.heapUsed,
          heapTotal: memory.heapTotal,
          external: memory.external,
          arrayBuffers: memory.arrayBuffers,
        },
        eventLoopDelay: {
          mean: ms(delay.mean),
          p50: ms(delay.percentile(50)),
          p99: ms(delay.percentile(99)),
          max: ms(delay.max),
        },
        eventLoopUtilization: eluDelta.utilization,
      };
      cpu = process.cpuUsage();
      at = now;
      elu = performance.eventLoopUtilization();
      delay.reset();
      return stats;
    },
    close() {
      delay.disable();
    },
  };
}
