import { invalidArgument, type Node, type Service } from '@micro-os/core';

/** A weighted split of one service's traffic, for A/B tests and canaries. */
export interface Split {
  /** What the weights are keyed by: `'version'` (the service version) or a node metadata key. */
  by: string;
  /** Share of calls per value, relative to their sum. Nodes whose value is not listed get calls only when the caller selects them by label. */
  weights: Record<string, number>;
}

export function checkSplit(service: string, split: Split): Split {
  if (typeof split?.by !== 'string' || split.by === '')
    throw invalidArgument(`splits.${service}.by must be 'version' or a metadata key, got ${split?.by}`);
  let sum = 0;
  for (const [value, weight] of Object.entries(split.weights ?? {})) {
    if (!(typeof weight === 'number' && Number.isFinite(weight) && weight >= 0))
      throw invalidArgument(
        `splits.${service}.weights.${value} must be a finite number >= 0, got ${weight}`,
        {
          service,
          value,
          weight,
        },
      );
    sum += weight;
  }
  if (!(sum > 0))
    throw invalidArgument(`splits.${service}.weights must sum to more than 0, got ${sum}`, { service, sum });
  return { by: split.by, weights: { ...split.weights } };
}

/** The value a node is split on. */
export function splitValue(by: string, service: Service, node: Node): string {
  return by === 'version' ? (node.metadata.version ?? service.version) : (node.metadata[by] ?? '');
}

/**
 * Smooth weighted round-robin (as in nginx) over the groups present: deterministic, so any run of calls
 * matches the weights to within one call per group.
 */
export class SplitChooser {
  readonly split: Split;
  readonly #current = new Map<string, number>();

  constructor(split: Split) {
    this.split = split;
  }

  /** Picks one of the present group values; groups of weight 0 only when nothing else is present. */
  choose(present: readonly string[]): string {
    let total = 0;
    let best: string | undefined;
    let bestCurrent = Number.NEGATIVE_INFINITY;
    for (const value of present) {
      const weight = this.split.weights[value] ?? 0;
      if (weight <= 0) continue;
      total += weight;
      const current = (this.#current.get(value) ?? 0) + weight;
      this.#current.set(value, current);
      if (current > bestCurrent) {
        best = value;
        bestCurrent = current;
      }
    }
    if (best === undefined) return present[Math.floor(Math.random() * present.length)] as string;
    this.#current.set(best, bestCurrent - total);
    return best;
  }
}
