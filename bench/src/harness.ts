/** Runs a case and its baseline back to back over several rounds (alternating which goes first) and reports the median ratio. */

export interface Figures {
  reqPerSec: number;
  p50: number;
  p99: number;
}

export type Op = () => Promise<unknown>;

/** `count` operations with `concurrency` in flight; latencies in microseconds. */
export async function measure(op: Op, count: number, concurrency: number): Promise<Figures> {
  const latencies = new Float64Array(count);
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const t0 = performance.now();
      await op();
      latencies[i] = (performance.now() - t0) * 1000;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  return {
    reqPerSec: count / seconds,
    p50: latencies[Math.floor(count * 0.5)] ?? 0,
    p99: latencies[Math.floor(count * 0.99)] ?? 0,
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};

export interface Comparison {
  name: string;
  ours: Figures;
  baseline: Figures;
  /** Median over rounds of ours.reqPerSec / baseline.reqPerSec. */
  ratio: number;
  target: number;
}

export async function compare(
  name: string,
  ours: Op,
  baseline: Op,
  options: { count: number; concurrency: number; rounds?: number; target: number; warmup?: number },
): Promise<Comparison> {
  const rounds = options.rounds ?? 5;
  await measure(ours, options.warmup ?? Math.min(options.count, 2000), options.concurrency);
  await measure(baseline, options.warmup ?? Math.min(options.count, 2000), options.concurrency);
  const ratios: number[] = [];
  const oursRuns: Figures[] = [];
  const baseRuns: Figures[] = [];
  for (let r = 0; r < rounds; r++) {
    // Which goes first alternates: going second after the other case's garbage and caches is no advantage either way.
    let a: Figures;
    let b: Figures;
    if (r % 2 === 0) {
      a = await measure(ours, options.count, options.concurrency);
      b = await measure(baseline, options.count, options.concurrency);
    } else {
      b = await measure(baseline, options.count, options.concurrency);
      a = await measure(ours, options.count, options.concurrency);
    }
    oursRuns.push(a);
    baseRuns.push(b);
    ratios.push(a.reqPerSec / b.reqPerSec);
  }
  const pick = (runs: Figures[]): Figures => ({
    reqPerSec: median(runs.map((f) => f.reqPerSec)),
    p50: median(runs.map((f) => f.p50)),
    p99: median(runs.map((f) => f.p99)),
  });
  const result = {
    name,
    ours: pick(oursRuns),
    baseline: pick(baseRuns),
    ratio: median(ratios),
    target: options.target,
  };
  print(result);
  return result;
}

export function print(c: Comparison): void {
  const f = (x: Figures): string =>
    `${Math.round(x.reqPerSec).toLocaleString('en-US').padStart(10)} req/s  p50 ${x.p50.toFixed(0).padStart(6)} µs  p99 ${x.p99
      .toFixed(0)
      .padStart(6)} µs`;
  const verdict = c.ratio >= c.target ? 'meets' : 'BELOW';
  console.log(
    `${c.name}\n  ours     ${f(c.ours)}\n  baseline ${f(c.baseline)}\n  ratio ${c.ratio.toFixed(2)} (target >= ${c.target}: ${verdict})`,
  );
}
