import { Channel, isMicroError, sleep, toMicroError } from '@micro-os/core';
import { keepAlive } from './keep-alive.js';
import { checkDuration, checkName, checkRenewInterval, checkTtl, defaultTtl } from './options.js';
import type { LockMetadata, Locks } from './types.js';

export interface CampaignOptions {
  /** Leadership lease in ms; a crashed leader is replaced within about this long. @default 10000 */
  ttl?: number;
  /** How often the leader renews, in ms; below ttl. @default ttl / 3 */
  renewInterval?: number;
  /** Stops campaigning; once elected, aborting it resigns. */
  signal?: AbortSignal;
  /** Published with the leadership (an address, a node id), readable by `leader()` and `observe()`. */
  metadata?: LockMetadata;
}

/** Leadership won by `campaign()`. */
export interface Elected extends AsyncDisposable {
  readonly name: string;
  /** Strictly increasing per name: use it as the fencing token of everything the leader writes. */
  readonly term: number;
  /** Aborts when leadership is lost (lease lost or expired) or given up. */
  readonly revoked: AbortSignal;
  /** Gives leadership up; harmless when it was already revoked. */
  resign(): Promise<void>;
}

export interface Leader {
  readonly name: string;
  readonly term: number;
  readonly metadata: LockMetadata;
}

export interface ObserveOptions {
  /** Ends the iteration. */
  signal?: AbortSignal;
}

export interface Election {
  /** Waits until this process leads `name` (or the signal aborts). */
  campaign(name: string, options?: CampaignOptions): Promise<Elected>;
  /** The current leader of `name`, if any. */
  leader(name: string): Promise<Leader | undefined>;
  /** The leader now, then every change (`undefined` while there is none), until the signal aborts. */
  observe(name: string, options?: ObserveOptions): AsyncIterable<Leader | undefined>;
}

export interface ElectionOptions {
  /** How often `observe()` polls the backend, in ms. @default 100 */
  pollInterval?: number;
}

/** Leader election on any `Locks`: the leader holds the lock named after the election and renews it. */
export function election(locks: Locks, options: ElectionOptions = {}): Election {
  const pollInterval =
    options.pollInterval === undefined ? 100 : checkDuration('pollInterval', options.pollInterval, 0, 60_000);

  const campaign = async (name: string, opts: CampaignOptions = {}): Promise<Elected> => {
    const ttl = opts.ttl === undefined ? defaultTtl : checkTtl(opts.ttl);
    const interval =
      opts.renewInterval === undefined
        ? Math.max(1, Math.floor(ttl / 3))
        : checkRenewInterval(opts.renewInterval, ttl);
    const lock = await locks.acquire(name, {
      ttl,
      wait: Number.POSITIVE_INFINITY,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      ...(opts.metadata === undefined ? {} : { metadata: opts.metadata }),
    });
    const renewal = keepAlive(lock, ttl, interval);
    let resigning: Promise<void> | undefined;
    const resign = (): Promise<void> => {
      resigning ??= (async () => {
        opts.signal?.removeEventListener('abort', onAbort);
        await renewal.stop();
        if (lock.signal.aborted) return;
        await lock.release().catch((err: unknown) => {
          // Lost or expired meanwhile: `revoked` has fired already, which is what resigning wants.
          if (!isMicroError(err, 'aborted')) throw err;
        });
      })();
      return resigning;
    };
    const onAbort = (): void => void resign().catch(() => undefined);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    return { name, term: lock.token, revoked: lock.signal, resign, [Symbol.asyncDispose]: resign };
  };

  const leader = async (name: string): Promise<Leader | undefined> => {
    const holder = await locks.inspect(checkName(name));
    return holder === undefined ? undefined : { name, term: holder.token, metadata: holder.metadata };
  };

  const observe = (name: string, opts: ObserveOptions = {}): AsyncIterable<Leader | undefined> => {
    checkName(name);
    const stop = new AbortController();
    const channel = new Channel<Leader | undefined>(opts.signal, () => stop.abort());
    void (async () => {
      let last: string | undefined;
      while (!stop.signal.aborted) {
        try {
          const current = await leader(name);
          const key = current === undefined ? 'none' : `${current.term}:${JSON.stringify(current.metadata)}`;
          if (key !== last) {
            last = key;
            channel.push(current);
          }
        } catch (err) {
          const error = toMicroError(err, 'unavailable');
          if (error.code !== 'unavailable') return channel.fail(error);
        }
        await sleep(pollInterval, stop.signal).catch(() => undefined);
      }
    })();
    return channel;
  };

  return { campaign, leader, observe };
}
