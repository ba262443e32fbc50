import type { Node } from '@micro-os/core';
import { Breaker, type BreakerSettings } from './breaker.js';
import { Ejection, type EjectionSettings } from './ejection.js';

/** What other routers of the fleet report about one node, merged. */
export interface RemoteView {
  /** Mean of the reported latency EWMAs, ms (0 when none has a sample). */
  latency: number;
  /** Routers whose report had a latency sample. */
  samples: number;
  /** Calls in flight from other routers. */
  outstanding: number;
  /** Routers that reported this node. */
  sources: number;
}

/** Everything one router knows about one node of one service. */
export class NodeState {
  node: Node;
  readonly service: string;
  outstanding = 0;
  /** Local EWMA of latency, ms; 0 before the first sample. */
  latency = 0;
  /** When the last latency sample came in (performance.now() ms). */
  sampledAt = 0;
  calls = 0;
  failures = 0;
  lastSeen: number;
  remote: RemoteView | undefined;
  readonly breaker: Breaker | undefined;
  readonly ejection: Ejection | undefined;

  constructor(
    service: string,
    node: Node,
    now: number,
    breaker: BreakerSettings | undefined,
    ejection: EjectionSettings | undefined,
  ) {
    this.service = service;
    this.node = node;
    this.lastSeen = now;
    this.breaker = breaker === undefined ? undefined : new Breaker(breaker);
    this.ejection = ejection === undefined ? undefined : new Ejection(ejection);
  }

  /** May a call go here now (breaker not open, not ejected)? Claims nothing. */
  available(now: number): boolean {
    if (this.ejection?.ejected(now)) return false;
    return this.breaker === undefined || this.breaker.available(now);
  }

  /** Claims a call: false when the node became unavailable or its half-open probe is taken. */
  acquire(now: number): boolean {
    if (this.ejection?.ejected(now)) return false;
    return this.breaker === undefined || this.breaker.acquire(now);
  }

  /**
   * The fleet-wide latency estimate, ms: local and remote EWMAs averaged by the routers that have one.
   * The local EWMA decays towards 0 while the node gets no calls (`decay` ms per factor e), so a node that
   * was slow once is tried again later instead of being shunned forever.
   */
  fleetLatency(at: number, decay: number): number {
    const idle = at - this.sampledAt;
    // Decay only matters once a node has been idle for a while; skipping Math.exp keeps the hot path cheap.
    const local =
      this.latency === 0 || idle < decay / 100 ? this.latency : this.latency * Math.exp(-idle / decay);
    const remote = this.remote;
    if (remote === undefined || remote.samples === 0) return local;
    const has = local > 0 ? 1 : 0;
    return (local * has + remote.latency * remote.samples) / (has + remote.samples);
  }

  fleetOutstanding(): number {
    return this.outstanding + (this.remote?.outstanding ?? 0);
  }

  sample(duration: number, alpha: number, at: number): void {
    this.sampledAt = at;
    this.latency = this.latency === 0 ? duration : this.latency + alpha * (duration - this.latency);
  }
}
