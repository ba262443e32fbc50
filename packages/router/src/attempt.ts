import type { Node } from '@micro-os/core';
import type { NodeState } from './node-state.js';

/**
 * The node `Next` hands out for one attempt: a fresh copy of the registry's node that remembers when the
 * attempt started. Core's client passes this very object back to `Selector.mark()`, which is how the
 * router times calls without a client wrapper.
 */
export class AttemptNode implements Node {
  id: string;
  address: string;
  metadata: Record<string, string>;
  readonly #state: NodeState;
  readonly #start: number;
  #finished = false;

  constructor(state: NodeState, start: number) {
    this.id = state.node.id;
    this.address = state.node.address;
    this.metadata = state.node.metadata;
    this.#state = state;
    this.#start = start;
  }

  /** The attempt's node state and start time, once; undefined for nodes not handed out by a router. */
  static finish(node: Node): { state: NodeState; start: number } | undefined {
    if (!(node instanceof AttemptNode) || node.#finished) return undefined;
    node.#finished = true;
    return { state: node.#state, start: node.#start };
  }
}
