import { randomBytes } from 'node:crypto';
import { invalidArgument, MicroError } from '@micro-os/core';
import { type Cluster, Redis } from 'ioredis';
import Redlock, { type Lock as RedlockLock } from 'redlock';
import { createLocks, type LocksOptions } from './create-locks.js';
import type { Lease, LeaseBackend, LeaseEnd } from './lease.js';
import { acquireScript, extendScript, releaseScript, settleScript } from './redis-scripts.js';
import { RedlockNode, script } from './redlock-node.js';
import type { Holder, LockMetadata, Locks } from './types.js';

type Client = Redis | Cluster;

export interface RedisLocksOptions extends LocksOptions {
  /**
   * A ready ioredis client (left open on close), or several clients of independent Redis nodes: locks then
   * need a majority of them (the Redlock algorithm).
   */
  client?: Client | Client[];
  /** Or Redis URL(s) to connect to lazily; the connections are closed by `close()`. */
  url?: string | string[];
  /** Prefix of every key. @default 'micro:sync:' */
  prefix?: string;
}

interface RedisLease extends Lease {
  /** The lease and token keys. */
  readonly resources: [string, string];
  /** This acquisition's value, unique to it, stored in the lease. */
  readonly value: string;
  /** redlock's handle, for a quorum of nodes; a single node is driven directly. */
  lock?: RedlockLock;
}

/**
 * Locks on Redis through redlock: one node, or a quorum of independent nodes. Fencing tokens come from a counter
 * next to each lease, incremented by the same script that takes it (one round trip), and never below the
 * server's clock in microseconds.
 */
export function redisLocks(options: RedisLocksOptions): Locks {
  const { client, url, prefix = 'micro:sync:' } = options;
  if ((client === undefined) === (url === undefined)) {
    throw invalidArgument('redisLocks needs exactly one of client or url', { field: 'client' });
  }
  const clients = client === undefined ? [] : Array.isArray(client) ? client : [client];
  const urls = url === undefined ? [] : Array.isArray(url) ? url : [url];
  if (clients.length + urls.length === 0) {
    throw invalidArgument('redisLocks needs at least one Redis node: a quorum of none can never be reached', {
      field: client === undefined ? 'url' : 'client',
    });
  }
  if (new Set(urls).size !== urls.length || new Set(clients).size !== clients.length) {
    throw invalidArgument('redisLocks nodes must be independent: the same node is listed twice', {
      field: client === undefined ? 'url' : 'client',
    });
  }
  for (const u of urls) {
    if (typeof u !== 'string' || !/^rediss?:\/\//.test(u)) {
      throw invalidArgument(`invalid url ${JSON.stringify(u)}: expected redis://host:port`, { field: 'url' });
    }
  }
  if (typeof prefix !== 'string')
    throw invalidArgument('invalid prefix: must be a string', { field: 'prefix' });
  const owned = urls.map((u) => {
    const redis = new Redis(u, { lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined); // failures surface on the commands; a dead node must not crash the process
    return redis;
  });
  return createLocks(
    redisBackend([...clients, ...owned], owned, prefix, options.driftFactor ?? 0.01),
    options,
  );
}

function redisBackend(
  clients: Client[],
  owned: Redis[],
  prefix: string,
  driftFactor: number,
): LeaseBackend<RedisLease> {
  const scripts = {
    acquire: script(acquireScript),
    extend: script(extendScript),
    release: script(releaseScript),
    settle: script(settleScript),
  };
  const nodes = clients.map((c) => new RedlockNode(c, scripts));
  const quorum = Math.floor(nodes.length / 2) + 1;
  /** The node, when there is only one: no quorum to reach, so each operation is one script call without redlock. */
  const single = nodes.length === 1 ? nodes[0] : undefined;
  // redlock runs the quorum algorithm of acquire and extend (and cleans up after a refused acquisition); its own
  // retries are off, as ours add jitter, a wait and validity checks. Its scripts must be given as functions:
  // redlock 5.0.0-beta.2 silently ignores scripts given as strings. Release needs none of it: one script per node.
  const redlock = new Redlock(
    nodes as unknown as Redis[],
    { driftFactor, retryCount: 0, retryDelay: 0, retryJitter: 0 },
    {
      acquireScript: () => scripts.acquire.value,
      extendScript: () => scripts.extend.value,
      releaseScript: () => scripts.release.value,
    },
  );
  const keys = (name: string): [string, string] => [`${prefix}{${name}}:lease`, `${prefix}{${name}}:token`];

  /** The answers of the nodes to one operation on one lease; forgets them for the next. */
  const answers = (op: string, value: string): number[] => {
    const codes: number[] = [];
    for (const node of nodes) {
      const code = node.take(op, value);
      if (code !== undefined) codes.push(code);
    }
    return codes;
  };

  /** An extend or release from the nodes' answers: done on a quorum, lost if any node has another holder, expired on a quorum of "gone". */
  const outcome = (codes: number[], err: unknown, what: string): true | LeaseEnd => {
    if (codes.filter((c) => c > 0).length >= quorum) return true;
    if (codes.includes(-1)) return 'lock_lost';
    if (codes.filter((c) => c === 0).length >= quorum || /already-expired/.test(String(err)))
      return 'lock_expired';
    throw new MicroError('unavailable', `${what} did not reach a quorum of ${quorum} Redis nodes`, {
      cause: err,
    });
  };

  /** Runs a small script on every node; resolves as soon as a quorum succeeded (a dead node is not waited for). */
  const onQuorum = async (s: typeof scripts.settle, keyList: string[], args: string[]): Promise<void> => {
    const results = await gather(
      nodes.map((n) => n.run(s, keyList, args)),
      (ok) => ok.length >= quorum,
    );
    if (results.ok.length < quorum) {
      throw new MicroError(
        'unavailable',
        `only ${results.ok.length} of ${nodes.length} Redis nodes answered`,
        {
          cause: results.failed[0],
        },
      );
    }
  };

  return {
    name: 'redis',
    tryAcquire: async (name, ttl, metadata) => {
      if (single !== undefined) {
        // createLocks checks the validity left, as redlock would.
        const resources = keys(name);
        const value = holderValue();
        let token: number;
        try {
          token = await single.run(scripts.acquire, resources, [value, String(ttl)]);
        } catch (err) {
          throw new MicroError('unavailable', `lock "${name}": the Redis node failed`, { cause: err });
        }
        if (token <= 0) return undefined;
        const lease: RedisLease = { name, token, resources, value };
        if (Object.keys(metadata).length > 0) {
          await single
            .run(scripts.settle, resources, [value, String(token), JSON.stringify(metadata)])
            .catch(async (err: unknown) => {
              await single.run(scripts.release, resources, [value]).catch(() => undefined);
              throw new MicroError('unavailable', `lock "${name}": the Redis node failed`, { cause: err });
            });
        }
        return lease;
      }
      const start = Date.now();
      let lock: RedlockLock;
      try {
        lock = await redlock.acquire(keys(name), ttl);
      } catch (err) {
        // A quorum of votes against is the normal refusal (someone holds it), unless too many nodes failed.
        const failures = nodes.map((n) => n.failureSince(start)).filter((f) => f !== undefined);
        if (failures.length > nodes.length - quorum) {
          throw new MicroError(
            'unavailable',
            `lock "${name}": ${failures.length} of ${nodes.length} Redis nodes failed`,
            {
              cause: failures[0] ?? err,
            },
          );
        }
        return undefined;
      }
      const tokens = answers(scripts.acquire.hash, lock.value).filter((c) => c > 0);
      const token = Math.max(...tokens);
      const lease: RedisLease = { name, token, resources: keys(name), value: lock.value, lock };
      try {
        // Every node of the quorum must learn the token.
        await onQuorum(scripts.settle, keys(name), [lock.value, String(token), JSON.stringify(metadata)]);
      } catch (err) {
        await redlock.release(lock).catch(() => undefined);
        throw err;
      }
      return lease;
    },
    extend: async (lease, ttl) => {
      const what = `extend of lock "${lease.name}"`;
      const { lock } = lease;
      if (single !== undefined || lock === undefined) {
        const code = await single?.run(scripts.extend, lease.resources, [lease.value, String(ttl)]);
        return outcome(code === undefined ? [] : [code], undefined, what);
      }
      try {
        lease.lock = await redlock.extend(lock, ttl);
        answers(scripts.extend.hash, lease.value);
        return true;
      } catch (err) {
        return outcome(answers(scripts.extend.hash, lease.value), err, what);
      }
    },
    release: async (lease) => {
      const { resources, value } = lease;
      const what = `release of lock "${lease.name}"`;
      if (single !== undefined) {
        return outcome([await single.run(scripts.release, resources, [value])], undefined, what);
      }
      const results = await gather(
        nodes.map((n) => n.run(scripts.release, resources, [value])),
        (ok) => ok.filter((c) => c > 0).length >= quorum,
      );
      return outcome(results.ok, results.failed[0], what);
    },
    inspect: async (name) => {
      const [leaseKey] = keys(name);
      // A holder is the value a quorum of nodes agrees on; its token is the one recorded by the settle step
      // (a node that answered the acquisition late may hold a higher counter of its own).
      const agreed = (entries: Record<string, string>[]): Record<string, string>[] | undefined => {
        const byValue = new Map<string, Record<string, string>[]>();
        for (const entry of entries) {
          if (entry.v === undefined) continue;
          byValue.set(entry.v, [...(byValue.get(entry.v) ?? []), entry]);
        }
        return [...byValue.values()].find((group) => group.length >= quorum);
      };
      const results = await gather(
        nodes.map((n) => n.redis.hgetall(leaseKey)),
        (ok) => agreed(ok) !== undefined || ok.filter((e) => e.v === undefined).length >= quorum,
      );
      const group = agreed(results.ok);
      if (group !== undefined) {
        const settled = group.find((entry) => entry.s === '1');
        return holder(name, settled ?? group.reduce((a, b) => (Number(b.t) > Number(a.t) ? b : a)));
      }
      if (results.ok.length < quorum) {
        throw new MicroError(
          'unavailable',
          `only ${results.ok.length} of ${nodes.length} Redis nodes answered`,
          {
            cause: results.failed[0],
          },
        );
      }
      return undefined;
    },
    close: async () => {
      await Promise.all(owned.map((r) => r.quit().catch(() => r.disconnect())));
    },
  };
}

/**
 * A value no other holder uses: 64 random bits drawn once per process, then a counter (drawing random bytes per
 * acquisition, as redlock does, costs a system call each time).
 */
const holderPrefix = randomBytes(8).toString('hex');
let holderCount = 0;
const holderValue = (): string => `${holderPrefix}${(holderCount++).toString(36)}`;

function holder(name: string, entry: Record<string, string>): Holder {
  let metadata: LockMetadata = {};
  if (entry.m !== undefined) metadata = JSON.parse(entry.m) as LockMetadata;
  return { name, token: Number(entry.t), metadata };
}

/** Collects answers until `enough` says so or every promise settled. */
function gather<T>(
  promises: Promise<T>[],
  enough: (ok: T[]) => boolean,
): Promise<{ ok: T[]; failed: unknown[] }> {
  return new Promise((resolve) => {
    const ok: T[] = [];
    const failed: unknown[] = [];
    let settled = false;
    const check = (): void => {
      if (settled) return;
      if (enough(ok) || ok.length + failed.length === promises.length) {
        settled = true;
        resolve({ ok: [...ok], failed: [...failed] });
      }
    };
    for (const promise of promises) {
      promise.then(
        (value) => {
          ok.push(value);
          check();
        },
        (err: unknown) => {
          failed.push(err);
          check();
        },
      );
    }
  });
}
