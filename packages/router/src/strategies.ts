import type { NodeState } from './node-state.js';

/** How the router orders the candidates of a call. */
export type StrategyName = 'round-robin' | 'random' | 'least-outstanding' | 'p2c-ewma';

export const strategyNames: readonly StrategyName[] = [
  'round-robin',
  'random',
  'least-outstanding',
  'p2c-ewma',
];

/** Picks the index of one of `left` (never empty); `turn` counts the calls of the service, `at` is now. */
export type Pick = (left: readonly NodeState[], turn: number, at: number, decay: number) => number;

const randomIndex = (n: number): number => Math.floor(Math.random() * n);

/**
 * Lower is better: latency EWMA weighted by the calls in flight. A node without a latency sample is
 * free while idle (so new nodes get tried) and very expensive while its first call is in flight (so a
 * slow newcomer does not soak up traffic before its first answer).
 */
const score = (s: NodeState, at: number, decay: number): number => {
  const latency = s.fleetLatency(at, decay);
  const outstanding = s.fleetOutstanding();
  if (latency === 0) return outstanding === 0 ? 0 : 1e9 * outstanding;
  return latency * (outstanding + 1);
};

export const picks: Record<StrategyName, Pick> = {
  'round-robin': (left, turn) => turn % left.length,
  random: (left) => randomIndex(left.length),
  'least-outstanding': (left) => {
    const n = left.length;
    const start = randomIndex(n);
    let best = start;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      const load = (left[i] as NodeState).fleetOutstanding();
      if (load < bestLoad) {
        best = i;
        bestLoad = load;
      }
    }
    return best;
  },
  'p2c-ewma': (left, _turn, at, decay) => {
    const n = left.length;
    if (n === 1) return 0;
    const a = randomIndex(n);
    let b = randomIndex(n - 1);
    if (b >= a) b++;
    return score(left[a] as NodeState, at, decay) <= score(left[b] as NodeState, at, decay) ? a : b;
  },
};
