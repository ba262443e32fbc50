/**
 * An unbounded push-to-pull queue exposed as an AsyncIterable: producers `push`, one consumer iterates.
 * Ends when `end()` is called or the signal aborts; `fail()` makes the iteration throw.
 */
export class Channel<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #failWaiter: ((error: unknown) => void) | undefined;
  #ended = false;
  #error: unknown;
  readonly #onEnd: (() => void) | undefined;

  constructor(signal?: AbortSignal, onEnd?: () => void) {
    this.#onEnd = onEnd;
    if (signal?.aborted) this.end();
    else signal?.addEventListener('abort', () => this.end(), { once: true });
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(item: T): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      this.#failWaiter = undefined;
      waiter({ value: item, done: false });
    } else this.#items.push(item);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd?.();
    const waiter = this.#waiter;
    this.#waiter = undefined;
    this.#failWaiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  fail(error: unknown): void {
    if (this.#ended) return;
    this.#error = error;
    const failWaiter = this.#failWaiter;
    this.#waiter = undefined;
    this.#failWaiter = undefined;
    this.end();
    failWaiter?.(error);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.#items.shift();
        if (item !== undefined || this.#items.length > 0)
          return Promise.resolve({ value: item as T, done: false });
        if (this.#error !== undefined) return Promise.reject(this.#error);
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.#waiter = resolve;
          this.#failWaiter = reject;
        });
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
