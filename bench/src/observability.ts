import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type ClientWrapper,
  createService,
  type HandlerWrapper,
  memoryRegistry,
  memoryTransport,
  type Transport,
} from '@micro-os/core';
import { natsTransport } from '@micro-os/core/nats';
import { createLogger, type Output } from '@micro-os/log';
import { createMetrics, type Metrics, metricsClient, metricsHandler } from '@micro-os/metrics';
import { createMonitor, type Monitor, monitorClient, monitorHandler } from '@micro-os/monitor';
import { traceClient, traceHandler } from '@micro-os/trace';
import { type SetupTracingOptions, setupTracing } from '@micro-os/trace/sdk';
import { pino, stdTimeFunctions } from 'pino';

/**
 * `bench:observability [log|memory|nats]`: per-call cost of the trace, metrics and monitor wrappers (the same
 * echo call with and without them, sequential, CPU time, measured alternately, median of 7 rounds; wall
 * time over NATS) and of a log line
 * against pino writing the same line. Prints µs per call, the ratio and the overhead.
 */

const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Discards spans: measures the SDK and the batch processor, not an exporter's network. */
const discard: NonNullable<SetupTracingOptions['exporter']> = {
  export(_spans, done) {
    done({ code: 0 });
  },
  shutdown: async () => undefined,
};

interface Wrappers {
  client: ClientWrapper[];
  handler: HandlerWrapper[];
}

interface Echo {
  call: () => Promise<unknown>;
  close: () => Promise<void>;
}

async function echo(name: string, transport: () => Transport, wrappers: Wrappers): Promise<Echo> {
  const registry = memoryRegistry();
  // the measuring loop runs on microtasks only, so re-registration timers may not fire: register for an hour
  const registerTtl = 3_600_000;
  const server = createService({
    name,
    registry,
    registerTtl,
    transport: transport(),
    handlerWrappers: wrappers.handler,
  });
  server.handle<{ n: number }, { n: number }>('Bench.Echo', (req) => req);
  await server.start();
  const client = createService({
    name: `${name}-client`,
    registry,
    transport: transport(),
    clientWrappers: wrappers.client,
  });
  const payload = { n: 1 };
  const call = () => client.call(name, 'Bench.Echo', payload);
  await call();
  return {
    call,
    async close() {
      await client.stop();
      await server.stop();
      await client.transport.close();
      await server.transport.close();
    },
  };
}

type Pair = [ours: number, baseline: number];

/**
 * CPU µs (user + system) per call, sequential: on a shared machine, CPU time is far steadier than wall time,
 * which counts the time this process waits for a core. For a network round trip, wall time is what matters.
 */
async function cost(op: () => Promise<unknown>, count: number, wall: boolean): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await op();
  const cpu = process.cpuUsage(c0);
  return wall ? ((performance.now() - t0) * 1000) / count : (cpu.user + cpu.system) / count;
}

/**
 * µs per call of `op` and of `base`: many short rounds, alternating which goes first, and `op` as the
 * baseline's median plus the median of the per-round differences. On a shared machine a sequential NATS
 * round trip swings by tens of µs of CPU from one second to the next; comparing two medians taken apart
 * counted that swing as overhead (a wrapper that does nothing measured +20-30 µs), pairing cancels it.
 */
async function perCall(
  op: () => Promise<unknown>,
  base: () => Promise<unknown>,
  count: number,
  wall = false,
): Promise<Pair> {
  await cost(op, Math.min(count, 5000), wall);
  await cost(base, Math.min(count, 5000), wall);
  const size = Math.ceil(count / 6);
  const theirs: number[] = [];
  const differences: number[] = [];
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  for (let r = 0; r < 42; r++) {
    await tick(); // lets timers (the batch span processor's) run between rounds
    let a: number;
    let b: number;
    if (r % 2 === 0) {
      a = await cost(op, size, wall);
      b = await cost(base, size, wall);
    } else {
      b = await cost(base, size, wall);
      a = await cost(op, size, wall);
    }
    theirs.push(b);
    differences.push(a - b);
  }
  return [median(theirs) + median(differences), median(theirs)];
}

function report(name: string, [ours, base]: Pair, target: string, meets: boolean): void {
  console.log(
    `${name}\n  ours ${ours.toFixed(2)} µs/call  baseline ${base.toFixed(2)} µs/call  ` +
      `ratio ${(ours / base).toFixed(3)}  overhead ${(ours - base).toFixed(2)} µs (${target}: ${meets ? 'meets' : 'MISSES'})`,
  );
}

const overhead = ([ours, base]: Pair): number => ours - base;

interface Instruments {
  metrics: Metrics;
  monitor: Monitor;
}

/** One measured case: `ours` against `base`, each an echo service with those wrappers. */
interface Case {
  title: string;
  transport: 'memory' | 'nats';
  /** Whether the OpenTelemetry SDK (batch processor, discarding exporter) is installed. */
  sdk: boolean;
  ours: (i: Instruments) => Wrappers;
  base: (i: Instruments) => Wrappers;
  /** The most overhead in µs that meets the target, and how the target reads; none for a reference row. */
  target?: [limit: number, text: string];
}

// A call through any wrapper leaves core's synchronous path (a plain handler answers at once); the pass-through
// wrappers measure that step alone, so each wrapper's own cost is measured over them.
const none = (): Wrappers => ({ client: [], handler: [] });
const passHandler = (): Wrappers => ({ client: [], handler: [(next) => next] });
const passBoth = (): Wrappers => ({ client: [(next) => next], handler: [(next) => next] });
const all = ({ metrics, monitor }: Instruments): Wrappers => ({
  client: [traceClient(), metricsClient(metrics), monitorClient(monitor)],
  handler: [traceHandler(), metricsHandler(metrics), monitorHandler(monitor)],
});

const cases: Case[] = [
  {
    title: 'pass-through client+handler wrappers vs none, in-memory call',
    transport: 'memory',
    sdk: false,
    ours: passBoth,
    base: none,
  },
  {
    title: 'metrics client+handler wrappers, over a pass-through-wrapped in-memory call',
    transport: 'memory',
    sdk: false,
    ours: ({ metrics }) => ({ client: [metricsClient(metrics)], handler: [metricsHandler(metrics)] }),
    base: passBoth,
    target: [3, 'target <= 1.5 µs per wrapper'],
  },
  {
    title: 'metrics handler wrapper alone, over a pass-through-wrapped in-memory call',
    transport: 'memory',
    sdk: false,
    ours: ({ metrics }) => ({ client: [], handler: [metricsHandler(metrics)] }),
    base: passHandler,
    target: [1.5, 'target <= 1.5 µs'],
  },
  {
    title: 'trace client+handler wrappers, no SDK, in-memory call',
    transport: 'memory',
    sdk: false,
    ours: () => ({ client: [traceClient()], handler: [traceHandler()] }),
    base: none,
  },
  {
    title: 'monitor client+handler wrappers, in-memory call',
    transport: 'memory',
    sdk: false,
    ours: ({ monitor }) => ({ client: [monitorClient(monitor)], handler: [monitorHandler(monitor)] }),
    base: none,
  },
  {
    title: 'trace client+handler wrappers, SDK + batch processor, over a pass-through-wrapped in-memory call',
    transport: 'memory',
    sdk: true,
    ours: () => ({ client: [traceClient()], handler: [traceHandler()] }),
    base: passBoth,
    target: [10, 'target <= 5 µs per wrapper'],
  },
  {
    title: 'trace handler wrapper alone, SDK + batch processor, over a pass-through-wrapped in-memory call',
    transport: 'memory',
    sdk: true,
    ours: () => ({ client: [], handler: [traceHandler()] }),
    base: passHandler,
    target: [5, 'target <= 5 µs'],
  },
  {
    title: 'trace (SDK) + metrics + monitor wrappers, in-memory call',
    transport: 'memory',
    sdk: true,
    ours: all,
    base: none,
  },
  {
    title: 'trace (SDK) + metrics + monitor wrappers, NATS call',
    transport: 'nats',
    sdk: true,
    ours: all,
    base: none,
  },
];

/**
 * Runs one case in this process: only its two services exist, so the JIT sees the wrappers of this case and no
 * other (with every variant in one process, a baseline measured 2-7 µs depending on which ran before it).
 */
async function runCase(index: number): Promise<void> {
  const c = cases[index];
  if (c === undefined) throw new Error(`no case ${index}`);
  const nats = c.transport === 'nats';
  const transport = nats ? () => natsTransport({ servers }) : memoryTransport;
  const instruments = { metrics: createMetrics({ processMetrics: false }), monitor: createMonitor() };
  const tracing = c.sdk
    ? setupTracing({ serviceName: 'bench', exporter: discard, detectResources: false })
    : undefined;
  const ours = await echo('ours', transport, c.ours(instruments));
  const base = await echo('base', transport, c.base(instruments));
  const count = nats ? 3000 : 20_000;
  const cpu = await perCall(ours.call, base.call, count);
  // the round trip is wall time (it waits on the server); the wrappers' cost is the CPU they add to it
  const wall = nats ? await perCall(ours.call, base.call, count, true) : undefined;
  await tracing?.shutdown();
  for (const s of [ours, base]) await s.close();
  await instruments.monitor.close();
  process.stdout.write(`${JSON.stringify({ cpu, wall })}\n`);
}

/** Each case in a child process of its own, one after the other. */
async function wrapperCosts(transport: Case['transport']): Promise<void> {
  for (const [index, c] of cases.entries()) {
    if (c.transport !== transport) continue;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), 'case', String(index)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      child.on('exit', (code) =>
        code === 0 ? resolve(text) : reject(new Error(`case ${index} exited ${code}`)),
      );
    });
    const { cpu, wall } = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { cpu: Pair; wall?: Pair };
    if (wall === undefined) {
      const [limit, text] = c.target ?? [Number.POSITIVE_INFINITY, 'no target'];
      report(c.title, cpu, text, overhead(cpu) <= limit);
      continue;
    }
    report(`${c.title}, CPU time`, cpu, 'no target', true);
    const share = overhead(cpu) / wall[1];
    report(
      `${c.title}, wall time`,
      wall,
      `target: added CPU <= 5% of the round trip; ${overhead(cpu).toFixed(1)} µs of ${wall[1].toFixed(0)} µs = ${(share * 100).toFixed(1)}%`,
      share <= 0.05,
    );
  }
}

async function logCost(): Promise<void> {
  const sink = { write: (_line: string) => undefined };
  const output: Output = {
    name: 'null',
    stream: sink,
    flush: async () => undefined,
    close: async () => undefined,
  };
  const ours = createLogger({ service: 'bench', outputs: [output] });
  const bare = createLogger({
    service: 'bench',
    outputs: [output],
    redactSecrets: false,
    traceContext: false,
  });
  const base = { pid: process.pid, service: 'bench' };
  const rawDefault = pino({ base }, sink);
  const rawSame = pino({ base, formatters: { level: (label) => ({ level: label }) } }, sink);
  const oursIso = createLogger({ service: 'bench', outputs: [output], time: 'iso' });
  const rawIso = pino(
    { base, timestamp: stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    sink,
  );
  const fields = { orderId: 42, user: 'ada', amount: 12.5 };
  // Short rounds, alternating which goes first, and the median of the per-round ratios: on a shared
  // machine the load drifts within seconds, and a ratio of two medians taken apart picks that drift up.
  const count = 20_000;
  const once = (fn: () => void): number => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < count; i++) fn();
    const cpu = process.cpuUsage(c0);
    return (cpu.user + cpu.system) / count;
  };
  /** [ours, baseline] µs: the baseline's median and ours as that times the median per-round ratio. */
  const pair = (a: () => void, b: () => void): Pair => {
    const base: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < 45; r++) {
      let ta: number;
      let tb: number;
      if (r % 2 === 0) {
        ta = once(a);
        tb = once(b);
      } else {
        tb = once(b);
        ta = once(a);
      }
      if (r < 4) continue; // warm-up
      base.push(tb);
      ratios.push(ta / tb);
    }
    return [median(base) * median(ratios), median(base)];
  };
  const same = (): void => rawSame.info(fields, 'order taken');
  const d = pair(() => ours.info('order taken', fields), same);
  report(
    'log line, defaults (secret redaction, trace mixin) vs pino writing the same line',
    d,
    'target <= 1.1x',
    d[0] / d[1] <= 1.1,
  );
  const b = pair(() => bare.info('order taken', fields), same);
  report(
    'log line, redaction and trace mixin off vs pino writing the same line',
    b,
    'target <= 1.1x',
    b[0] / b[1] <= 1.1,
  );
  const iso = pair(
    () => oursIso.info('order taken', fields),
    () => rawIso.info(fields, 'order taken'),
  );
  report(
    "log line, defaults with time: 'iso' vs pino writing the same line",
    iso,
    'target <= 1.1x',
    iso[0] / iso[1] <= 1.1,
  );
  const p = pair(same, () => rawDefault.info(fields, 'order taken'));
  report('pino writing our line format (level label) vs pino defaults', p, 'no target', true);
}

const only = process.argv[2];
if (only === 'case') await runCase(Number(process.argv[3]));
else {
  if (only === undefined || only === 'log') await logCost();
  if (only === undefined || only === 'memory') await wrapperCosts('memory');
  if (only === undefined || only === 'nats') await wrapperCosts('nats');
}
