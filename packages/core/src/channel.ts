/**
 * A push-to-pull queue read as an AsyncIterable by one consumer: producers `push`, `end` finishes it after
 * the items already pushed, `fail` makes the consumer's pending or next read throw (once; the iteration is
 * over after it). Ends when the signal aborts; `onEnd` runs once on ending.
 */
export class Channel<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #onEnd: (() => void) | undefined;
  #pending: { resolve: (result: IteratorResult<T>) => void; reject: (err: unknown) => void } | undefined;
  #ended = false;
  #failed = false;
  #error: unknown;

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
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending !== undefined) pending.resolve({ value: item, done: false });
    else this.#items.push(item);
  }

  end(): void {
    this.#finish(false, undefined);
  }

  fail(error: unknown): void {
    this.#finish(true, error);
  }

  #finish(failed: boolean, error: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failed = failed;
    this.#error = error;
    this.#onEnd?.();
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending === undefined) return;
    if (failed) {
      this.#failed = false;
      pending.reject(error);
    } else pending.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift() as T, done: false });
        if (this.#failed) {
          this.#failed = false;
          return Promise.reject(this.#error);
        }
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.#pending = { resolve, reject };
        });
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
