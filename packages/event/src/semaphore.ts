/** Counts work in flight and lets a loop wait for a free slot, or for everything to finish. */
export class Semaphore {
  #active = 0;
  #waiters: (() => void)[] = [];
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  async acquire(): Promise<void> {
    while (this.#active >= this.#limit) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#active += 1;
  }

  release(): void {
    this.#active -= 1;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once nothing is in flight, or after `ms`. */
  async drain(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.#active > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }
}
