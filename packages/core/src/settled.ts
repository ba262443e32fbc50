/**
 * Calls `work(a, b)` and tells `done` how it ended (`failed` false, or true with the error) before the returned
 * promise settles the same way. For wrappers that measure or trace calls: one `then` per call, where an async
 * function with try/finally costs several promises (each one more so while an AsyncLocalStorage is in use). A
 * synchronous throw from `work` becomes a rejection, as it would in an async function.
 */
export function whenSettled<A, B, T>(
  work: (a: A, b: B) => Promise<T>,
  a: A,
  b: B,
  done: (failed: boolean, error: unknown) => void,
): Promise<T> {
  let pending: Promise<T>;
  try {
    pending = work(a, b);
  } catch (err) {
    done(true, err);
    return Promise.reject(err);
  }
  return pending.then(
    (value) => {
      done(false, undefined);
      return value;
    },
    (err: unknown) => {
      done(true, err);
      throw err;
    },
  );
}
