import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A Lua script and its SHA-1, as EVALSHA wants it. */
export interface Script {
  readonly value: string;
  readonly hash: string;
}

export const script = (value: string): Script => ({
  value,
  hash: createHash('sha1').update(value).digest('hex'),
});

/**
 * What redlock talks to in place of an ioredis client: runs our scripts on the node and turns their answers into
 * redlock's votes (a vote for is the number of keys). It keeps the tokens of successful acquisitions and every
 * answer to an extension, so that we can read tokens and tell a lost lease from an expired one; nothing else.
 */
export class RedlockNode {
  readonly #answers = new Map<string, { code: number; at: number }>();
  readonly #acquire: string;
  readonly #extend: string;
  #sweptAt = Date.now();
  #failedAt = 0;
  #failure: unknown;

  constructor(
    readonly redis: Redis | Cluster,
    scripts: { acquire: Script; extend: Script },
  ) {
    this.#acquire = scripts.acquire.hash;
    this.#extend = scripts.extend.hash;
  }

  evalsha(sha: string, numKeys: number, args: (string | number)[]): Promise<number> {
    return this.#run(sha, numKeys, args, this.redis.evalsha(sha, numKeys, ...args));
  }

  eval(value: string, numKeys: number, args: (string | number)[]): Promise<number> {
    return this.#run(script(value).hash, numKeys, args, this.redis.eval(value, numKeys, ...args));
  }

  /** Runs `s` on this node by its hash, sending the script itself if the node does not have it yet. */
  async run(s: Script, keys: string[], args: string[]): Promise<number> {
    try {
      return Number(await this.redis.evalsha(s.hash, keys.length, ...keys, ...args));
    } catch (err) {
      if (!String(err).includes('NOSCRIPT')) throw err;
      return Number(await this.redis.eval(s.value, keys.length, ...keys, ...args));
    }
  }

  /** The node's last error if it failed at or after `since` (ms since epoch). */
  failureSince(since: number): unknown {
    return this.#failedAt >= since ? this.#failure : undefined;
  }

  /** This node's answer to script `op` for lock value `value`, forgotten once read. */
  take(op: string, value: string): number | undefined {
    const key = `${op}:${value}`;
    const answer = this.#answers.get(key);
    if (answer === undefined) return undefined;
    this.#answers.delete(key);
    return answer.code;
  }

  #run(sha: string, numKeys: number, args: (string | number)[], command: Promise<unknown>): Promise<number> {
    return command.then(
      (result) => this.#vote(sha, numKeys, args, result),
      (err: unknown) => {
        // NOSCRIPT is redlock's cue to send the script itself, not a failure of the node.
        if (!String(err).includes('NOSCRIPT')) {
          this.#failedAt = Date.now();
          this.#failure = err;
        }
        throw err;
      },
    );
  }

  #vote(op: string, numKeys: number, args: (string | number)[], result: unknown): number {
    const code = Number(result);
    if ((op === this.#acquire && code > 0) || op === this.#extend) {
      const now = Date.now();
      // Answers nobody read (a node outvoted) go after a minute; swept now and then.
      if (this.#answers.size > 1000 && now - this.#sweptAt > 10_000) {
        this.#sweptAt = now;
        for (const [key, answer] of this.#answers) if (now - answer.at > 60_000) this.#answers.delete(key);
      }
      this.#answers.set(`${op}:${String(args[numKeys])}`, { code, at: now });
    }
    return code > 0 ? numKeys : 0;
  }
}
