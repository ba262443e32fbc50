import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/**
 * What redlock talks to in place of an ioredis client: runs our scripts on the node and turns their answers into
 * redlock's votes (a vote for is the number of keys), keeping each answer so that we can read tokens and tell a
 * lost lease from an expired one.
 */
export class RedlockNode {
  readonly #answers = new Map<string, { code: number; at: number }>();
  constructor(readonly redis: Redis | Cluster) {}

  #failedAt = 0;
  #failure: unknown;

  evalsha(sha: string, numKeys: number, args: (string | number)[]): Promise<number> {
    return this.#run(sha, numKeys, args, this.redis.evalsha(sha, numKeys, ...args));
  }

  eval(script: string, numKeys: number, args: (string | number)[]): Promise<number> {
    const sha = createHash('sha1').update(script).digest('hex');
    return this.#run(sha, numKeys, args, this.redis.eval(script, numKeys, ...args));
  }

  /** The node's last error if it failed at or after `since` (ms since epoch). */
  failureSince(since: number): unknown {
    return this.#failedAt >= since ? this.#failure : undefined;
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

  answer(op: string, value: string): number | undefined {
    return this.#answers.get(`${op}:${value}`)?.code;
  }

  forget(op: string, value: string): void {
    this.#answers.delete(`${op}:${value}`);
  }

  #vote(op: string, numKeys: number, args: (string | number)[], result: unknown): number {
    const now = Date.now();
    if (this.#answers.size > 1000) {
      for (const [key, answer] of this.#answers) if (now - answer.at > 60_000) this.#answers.delete(key);
    }
    const code = Number(result);
    this.#answers.set(`${op}:${String(args[numKeys])}`, { code, at: now });
    return code > 0 ? numKeys : 0;
  }
}
