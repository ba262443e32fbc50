import { AsyncLocalStorage } from 'node:async_hooks';
import type { Metadata } from './metadata.js';

/** What a handler knows about the call it serves. Calls it makes inherit the deadline and metadata. */
export interface CallContext {
  readonly service: string;
  readonly endpoint: string;
  /** Content type of the request body; the response uses the same codec. */
  readonly contentType: string;
  /** Metadata the caller sent (lower-case keys). */
  readonly metadata: Metadata;
  /** Epoch milliseconds after which the caller has given up; undefined when the call has no deadline. */
  readonly deadline: number | undefined;
  /** Aborts when the deadline passes, the caller cancels, or the server stops. */
  readonly signal: AbortSignal;
  /** Metadata the handler sends back with its response. */
  readonly responseMetadata: Metadata;
}

const storage = new AsyncLocalStorage<CallContext>();

/** The context of the call being served, when running inside a handler or subscriber. */
export function currentContext(): CallContext | undefined {
  return storage.getStore();
}

/** Runs `fn(...args)` with `context` as the current call context. */
export function runWithContext<A extends unknown[], T>(
  context: CallContext,
  fn: (...args: A) => T,
  ...args: A
): T {
  return storage.run(context, fn, ...args);
}

/** Milliseconds left until `deadline` (never negative); undefined when there is no deadline. */
export function remaining(deadline: number | undefined, now?: number): number | undefined {
  return deadline === undefined ? undefined : Math.max(0, deadline - (now ?? Date.now()));
}
