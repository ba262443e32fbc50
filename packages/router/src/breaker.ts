import { invalidArgument } from '@micro-os/core';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Error rate (0 < rate <= 1) over the window at which the breaker opens. @default 0.5 */
  errorRate?: number;
  /** Calls in the window before the error rate counts. @default 10 */
  minCalls?: number;
  /** Milliseconds the breaker stays open before it lets one probe through. @default 5000 */
  coolDown?: number;
  /** Milliseconds of outcomes the error rate is computed over. @default 10000 */
  window?: number;
}

export interface BreakerSettings {
  errorRate: number;
  minCalls: number;
  coolDown: number;
  window: number;
}

const buckets = 10;

export function breakerSettings(options: BreakerOptions = {}): BreakerSettings {
  const s = {
    errorRate: options.errorRate ?? 0.5,
    minCalls: options.minCalls ?? 10,
    coolDown: options.coolDown ?? 5000,
    window: options.window ?? 10_000,
  };
  if (!(s.errorRate > 0 && s.errorRate <= 1))
    throw invalidArgument(`breaker.errorRate must be > 0 and <= 1, got ${s.errorRate}`, {
      errorRate: s.errorRate,
    });
  if (!(Number.isInteger(s.minCalls) && s.minCalls > 0))
    throw invalidArgument(`breaker.minCalls must be an integer > 0, got ${s.minCalls}`, {
      minCalls: s.minCalls,
    });
  if (!(s.coolDown > 0 && Number.isFinite(s.coolDown)))
    throw invalidArgument(`breaker.coolDown must be > 0 ms, got ${s.coolDown}`, { coolDown: s.coolDown });
  if (!(s.window > 0 && Number.isFinite(s.window)))
    throw invalidArgument(`breaker.window must be > 0 ms, got ${s.window}`, { window: s.window });
  return s;
}

/**
 * A per-node circuit breaker. Closed: calls flow and outcomes are counted in a rolling window of ten
 * buckets. Open: no calls until the cool-down ends. Half-open: exactly one probe per cool-down; its
 * success closes the breaker, its failure opens it again.
 */
export class Breaker {
  readonly #s: BreakerSettings;
  readonly #calls = new Array<number>(buckets).fill(0);
  readonly #errors = new Array<number>(buckets).fill(0);
  /** Running totals of the buckets. */
  #callSum = 0;
  #errorSum = 0;
  #bucket = 0;
  #bucketStart = 0;
  #state: BreakerState = 'closed';
  #openedAt = 0;
  #probeAt: number | undefined;

  constructor(settings: BreakerSettings) {
    this.#s = settings;
  }

  /** The state at `now` (an open breaker whose cool-down has passed reads half-open). */
  state(now: number): BreakerState {
    if (this.#state === 'open' && now - this.#openedAt >= this.#s.coolDown) {
      this.#state = 'half-open';
      this.#probeAt = undefined;
    }
    return this.#state;
  }

  /** Whether a call may go to this node now, without claiming anything. */
  available(now: number): boolean {
    const state = this.state(now);
    if (state === 'closed') return true;
    if (state === 'open') return false;
    return this.#probeAt === undefined || now - this.#probeAt >= this.#s.coolDown;
  }

  /** Claims the right to send a call; in half-open, only the one probe of this cool-down gets it. */
  acquire(now: number): boolean {
    if (!this.available(now)) return false;
    if (this.#state === 'half-open') this.#probeAt = now;
    return true;
  }

  /** Records an outcome; `failure` undefined means the outcome says nothing about the node (an abort). */
  record(now: number, failure: boolean): void {
    const state = this.state(now);
    if (state === 'half-open') {
      if (failure) this.#open(now);
      else this.#close(now);
      return;
    }
    if (state === 'open') return;
    this.#roll(now);
    this.#calls[this.#bucket] = (this.#calls[this.#bucket] ?? 0) + 1;
    this.#callSum++;
    if (failure) {
      this.#errors[this.#bucket] = (this.#errors[this.#bucket] ?? 0) + 1;
      this.#errorSum++;
    }
    if (this.#callSum >= this.#s.minCalls && this.#errorSum / this.#callSum >= this.#s.errorRate)
      this.#open(now);
  }

  #open(now: number): void {
    this.#state = 'open';
    this.#openedAt = now;
    this.#probeAt = undefined;
  }

  #close(now: number): void {
    this.#state = 'closed';
    this.#calls.fill(0);
    this.#errors.fill(0);
    this.#callSum = 0;
    this.#errorSum = 0;
    this.#bucketStart = now;
  }

  #roll(now: number): void {
    const width = this.#s.window / buckets;
    if (this.#bucketStart === 0) this.#bucketStart = now;
    let steps = Math.floor((now - this.#bucketStart) / width);
    if (steps <= 0) return;
    this.#bucketStart += steps * width;
    if (steps > buckets) steps = buckets;
    for (let i = 0; i < steps; i++) {
      this.#bucket = (this.#bucket + 1) % buckets;
      this.#callSum -= this.#calls[this.#bucket] ?? 0;
      this.#errorSum -= this.#errors[this.#bucket] ?? 0;
      this.#calls[this.#bucket] = 0;
      this.#errors[this.#bucket] = 0;
    }
  }
}
