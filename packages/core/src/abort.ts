import { MicroError } from './errors.js';

/** The MicroError for an aborted signal: `deadline_exceeded` for a timeout, `aborted` otherwise. */
export function abortError(signal: AbortSignal, what: string): MicroError {
  const reason: unknown = signal.reason;
  if (reason instanceof MicroError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new MicroError('deadline_exceeded', `${what} timed out`, { cause: reason });
  }
  return new MicroError('aborted', `${what} was cancelled`, { cause: reason });
}

/**
 * Combines an optional caller signal and an optional timeout into one signal, plus a `done` to release
 * the timer. With neither, the signal never aborts.
 */
export function deadlineSignal(
  signal: AbortSignal | undefined,
  timeout: number | undefined,
): { signal: AbortSignal; done: () => void } {
  if (timeout === undefined) return { signal: signal ?? neverAborts, done: noop };
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new MicroError('deadline_exceeded', `deadline of ${timeout} ms exceeded`)),
    timeout,
  );
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal !== undefined) {
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  return {
    signal: controller.signal,
    done: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** Rejects with the signal's abort error as soon as it aborts; otherwise settles as `promise` does. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal, what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Waits `ms`, or rejects when `signal` aborts. The timer never keeps the process alive alone. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal, 'wait'));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal as AbortSignal, 'wait'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const neverAborts = new AbortController().signal;
function noop(): void {}
